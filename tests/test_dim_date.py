"""model.dim_date rows: pt-BR names, ISO weeks, Brazilian national holidays (python `holidays`)."""

from __future__ import annotations

from datetime import date

import pytest

from vetorial_assets.model.calendar import calendar_rows


def _rows(first: date, last: date) -> dict[date, dict]:
    cols = calendar_rows(first, last)
    return {day: {name: values[i] for name, values in cols.items()} for i, day in enumerate(cols["date"])}


def test_national_holidays_names_and_business_days():
    rows = _rows(date(2026, 1, 1), date(2026, 12, 31))
    assert len(rows) == 365
    holidays = {d: r["holiday_name"] for d, r in rows.items() if r["is_holiday"]}
    assert holidays[date(2026, 4, 21)] == "Tiradentes"
    assert holidays[date(2026, 12, 25)] == "Natal"
    assert holidays[date(2026, 11, 20)] == "Dia Nacional de Zumbi e da Consciência Negra"  # national since 2024
    assert holidays[date(2026, 4, 3)] == "Sexta-feira Santa"  # moves with Easter
    assert date(2026, 2, 17) not in holidays  # Carnaval is not a national holiday (an optional point)
    xmas = rows[date(2026, 12, 25)]
    assert (xmas["weekday_name"], xmas["iso_weekday"], xmas["is_weekend"], xmas["is_business_day"]) == (
        "sexta-feira",
        5,
        False,
        False,
    )
    eve = rows[date(2026, 12, 24)]
    assert (eve["is_holiday"], eve["holiday_name"], eve["is_business_day"]) == (False, None, True)
    saturday = rows[date(2026, 3, 14)]
    assert (saturday["weekday_name"], saturday["is_weekend"], saturday["is_business_day"]) == ("sábado", True, False)


def test_calendar_fields():
    row = _rows(date(2027, 1, 1), date(2027, 1, 1))[date(2027, 1, 1)]
    # 2027-01-01 is a Friday of ISO week 53 of 2026.
    assert (row["year"], row["quarter"], row["month"], row["month_name"], row["day"], row["iso_week"]) == (
        2027,
        1,
        1,
        "janeiro",
        1,
        53,
    )
    assert _rows(date(2026, 3, 1), date(2026, 3, 1))[date(2026, 3, 1)]["month_name"] == "março"


def test_a_reversed_range_is_an_error():
    with pytest.raises(ValueError, match="before the first"):
        calendar_rows(date(2026, 2, 1), date(2026, 1, 1))
