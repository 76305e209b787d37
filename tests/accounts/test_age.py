from __future__ import annotations

from datetime import date

import pytest

from afterdark.accounts.age import age_on, check_adult
from afterdark.errors import InvalidInputError, PermissionDeniedError


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(2000, 6, 15), date(2018, 6, 14), 17),
        (date(2000, 6, 15), date(2018, 6, 15), 18),
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2018, 3, 1), 18),
    ],
)
def test_age_on_birthdays(born: date, today: date, age: int) -> None:
    assert age_on(born, today) == age


def test_minor_is_refused_with_reason() -> None:
    with pytest.raises(PermissionDeniedError, match="18 or older"):
        check_adult(date(2010, 1, 1), today=date(2026, 1, 1), min_age=18)


def test_future_and_absurd_dates_are_invalid() -> None:
    with pytest.raises(InvalidInputError, match="future"):
        check_adult(date(2030, 1, 1), today=date(2026, 1, 1), min_age=18)
    with pytest.raises(InvalidInputError, match="1900"):
        check_adult(date(1800, 1, 1), today=date(2026, 1, 1), min_age=18)


def test_adult_passes() -> None:
    check_adult(date(1990, 1, 1), today=date(2026, 1, 1), min_age=18)
