"""The lorebook (world info) engine, with SillyTavern's semantics and the V3 decorators.

``activate`` decides which entries of a character book reach the prompt for one turn and
where they go; ``Timers`` carries sticky, cooldown and delay state from turn to turn.
"""

from afterdark.memory.lorebook.engine import (
    DepthInsert,
    LoreResult,
    ScanInput,
    Timers,
    activate,
)

__all__ = ["DepthInsert", "LoreResult", "ScanInput", "Timers", "activate"]
