"""Settings the streaming benchmark's parts share."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMAIL = "bench@example.com"
PASSWORD = "benchmark-password"  # a throwaway account in a throwaway data folder
MODEL = "standin-model"
USER_LINE = "Where are we headed, captain?"
DEFAULT_LEVELS = (1, 50, 200, 500, 2000)
QUICK_LEVELS = (1, 50, 200)
# Sampler fields Afterdark sends for the "balanced" preset (a fresh conversation's).
SAMPLER = {"temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1}
MAX_TOKENS = 300
CUT_OFF = "cut off at the level's time limit"
MODES = ("direct", "afterdark")
