"""Small helpers for the config sections' own checks: (holds, message naming the key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Check = tuple[bool, str]


def at_least(section: str, values: Any, names: Sequence[str], minimum: int = 1) -> list[Check]:
    """One check per size or count in `names` of a section: each must be >= `minimum`."""
    return [(getattr(values, name) >= minimum, f"{section}.{name} must be >= {minimum}") for name in names]
