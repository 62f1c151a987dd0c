"""model.dim_date rows: the calendar with Brazilian national holidays (pure, no I/O).

Holidays come from the `holidays` library (country BR, national holidays only: state and
municipal ones differ per client), with their pt-BR names. A business day is a weekday
that is not a national holiday.
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays

MONTHS = (
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
)
WEEKDAYS = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo")


def calendar_rows(first: date, last: date) -> dict[str, list]:
    """One row per day of first..last, as columns of model.dim_date."""
    if last < first:
        raise ValueError(f"dim_date: last day {last} is before the first {first}")
    national = holidays.country_holidays("BR", years=range(first.year, last.year + 1), language="pt_BR")
    cols: dict[str, list] = {
        name: []
        for name in (
            "date",
            "year",
            "quarter",
            "month",
            "month_name",
            "day",
            "iso_week",
            "iso_weekday",
            "weekday_name",
            "is_weekend",
            "is_holiday",
            "holiday_name",
            "is_business_day",
        )
    }
    day = first
    while day <= last:
        iso = day.isocalendar()
        name = national.get(day)
        weekend = iso.weekday >= 6
        for column, value in (
            ("date", day),
            ("year", day.year),
            ("quarter", (day.month - 1) // 3 + 1),
            ("month", day.month),
            ("month_name", MONTHS[day.month - 1]),
            ("day", day.day),
            ("iso_week", iso.week),
            ("iso_weekday", iso.weekday),
            ("weekday_name", WEEKDAYS[iso.weekday - 1]),
            ("is_weekend", weekend),
            ("is_holiday", name is not None),
            ("holiday_name", name),
            ("is_business_day", not weekend and name is None),
        ):
            cols[column].append(value)
        day += timedelta(days=1)
    return cols
