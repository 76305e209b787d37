"""Where the third-party test material lives: ``shared/`` beside the repository.

CI checks the repository out next to ``shared/``; a clone elsewhere finds it through
``AFTERDARK_SHARED_DIR`` or the workspace's ``/work/shared``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _shared() -> Path:
    candidates = [REPO.parent / "shared", Path("/work/shared")]
    if os.environ.get("AFTERDARK_SHARED_DIR"):
        candidates.insert(0, Path(os.environ["AFTERDARK_SHARED_DIR"]))
    for candidate in candidates:
        if (candidate / "data" / "cards").is_dir():
            return candidate
    raise RuntimeError(
        "The shared test data (shared/data/cards) is missing: check the repository out next "
        "to shared/, or set AFTERDARK_SHARED_DIR."
    )


SHARED = _shared()
CARDS = SHARED / "data" / "cards"
