"""Helpers for the memory tests that work below the API."""

from __future__ import annotations

from afterdark.accounts.models import User
from afterdark.kit.clock import utcnow


def users_named(*names: str) -> list[User]:
    """New, unsaved adult users named ``<name>@example.com``."""
    return [
        User(
            email=f"{name}@example.com",
            password_hash="-",
            age_checked_at=utcnow(),
            age_check_method="test",
        )
        for name in names
    ]
