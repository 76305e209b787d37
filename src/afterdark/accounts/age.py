"""The sign-up age gate: compute an age from a birth date and refuse minors."""

from __future__ import annotations

from datetime import date

from afterdark.errors import InvalidInputError, PermissionDeniedError


def age_on(birthdate: date, today: date) -> int:
    years = today.year - birthdate.year
    if (today.month, today.day) < (birthdate.month, birthdate.day):
        years -= 1
    return years


def check_adult(birthdate: date, *, today: date, min_age: int) -> None:
    """Raise unless someone born on ``birthdate`` is at least ``min_age`` today."""
    if birthdate > today:
        raise InvalidInputError("The date of birth is in the future.")
    if birthdate.year < 1900:
        raise InvalidInputError("The date of birth must be after 1900.")
    if age_on(birthdate, today) < min_age:
        raise PermissionDeniedError(
            f"Afterdark is for adults only: you must be {min_age} or older to sign up."
        )
