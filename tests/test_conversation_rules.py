"""Pure rules of staging.conversations (docs/business-rules.md §5)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from vetorial_assets.staging import conversation_rules as rules

SALT = b"test-salt"


@pytest.mark.parametrize(
    "phone",
    [
        "+55 11 98765-4321",
        "+55 (11) 8765-4321",
        "5511987654321@s.whatsapp.net",
        "551187654321@s.whatsapp.net",
        "(11) 98765-4321",
        "11 8765 4321",
        " 011987654321 ".strip()[1:],
    ],
)
def test_the_same_mobile_with_and_without_the_ninth_digit_is_one_number_and_one_key(phone):
    assert rules.normalise_phone(phone) == "+5511987654321"
    assert rules.contact_key(phone, None, SALT) == rules.contact_key("+5511987654321", "x@y.z", SALT)


def test_landlines_and_foreign_numbers_get_no_ninth_digit():
    assert rules.normalise_phone("(11) 3456-7890") == "+551134567890"  # starts with 3: a landline
    assert rules.normalise_phone("+1 415 555 2671") == "+14155552671"
    assert rules.normalise_phone("call me") is None and rules.normalise_phone(None) is None


def test_contact_key_is_a_keyed_hash_of_phone_else_email_else_none():
    by_phone = rules.contact_key("+5511987654321", "Ana@Mail.com", SALT)
    assert len(by_phone) == 64 and "5511987654321" not in by_phone
    assert rules.contact_key(None, " ANA@mail.com ", SALT) == rules.contact_key("no digits", "ana@mail.com", SALT)
    assert rules.contact_key(None, "ana@mail.com", SALT) != by_phone
    assert rules.contact_key(None, "ana@mail.com", b"another salt") != rules.contact_key(None, "ana@mail.com", SALT)
    assert rules.contact_key(None, None, SALT) is None and rules.contact_key("", "not an address", SALT) is None
    with pytest.raises(ValueError):
        rules.contact_key("+5511987654321", None, b"")


@pytest.mark.parametrize(
    "raw, expected",
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        ("t", True),
        ("f", False),
        ("Sim", True),
        ("não", False),
        ("NAO", False),
        ("Não ", False),
        ("yes", True),
        ("no", False),
        ("1", True),
        ("0", False),
        (1, True),
        (0, False),
        (None, None),
        ("", None),
    ],
)
def test_booleans(raw, expected):
    assert rules.boolean(raw) == (expected, None)


@pytest.mark.parametrize("raw", ["talvez", "2", 2, 1.5, "verdadeiro?"])
def test_anything_else_is_no_boolean(raw):
    value, problem = rules.boolean(raw)
    assert value is None and problem


@pytest.mark.parametrize(
    "raw, expected",
    [
        (0, Decimal("0")),
        (0.25, Decimal("0.25")),
        (1, Decimal("1")),
        (Decimal("87.5"), Decimal("0.875")),
        ("87,5", Decimal("0.875")),
        (" 0,3 ", Decimal("0.3")),
        (100, Decimal("1")),
        ("42", Decimal("0.42")),
        (None, None),
        ("", None),
    ],
)
def test_scores_on_the_0_1_scale(raw, expected):
    assert rules.probability(raw) == (expected, None)


@pytest.mark.parametrize("raw", [-0.1, 100.5, "abc", "1.234,5", float("nan"), "Infinity", True])
def test_bad_scores_are_none_with_a_reason(raw):
    value, problem = rules.probability(raw)
    assert value is None and problem


def test_status_enum_and_text():
    assert [rules.status_text(v)[0] for v in (0, 1, 2, 3, "1", " Resolved ", "OPEN")] == [
        "open",
        "resolved",
        "pending",
        "snoozed",
        "resolved",
        "resolved",
        "open",
    ]
    assert rules.status_text(7) == (None, "unknown status code")
    assert rules.status_text("archived") == ("archived", "unknown status")


def test_local_date_uses_sao_paulo_and_falls_back_to_the_update():
    late_utc = datetime(2025, 3, 2, 2, 0, tzinfo=UTC)  # 23:00 on March 1st in Sao Paulo
    assert rules.local_date(late_utc) == date(2025, 3, 1)
    assert rules.local_date(None, late_utc) == date(2025, 3, 1)


def test_first_reply_seconds():
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert rules.first_reply_seconds(t0, t0.replace(minute=2, second=30)) == (150.0, None)
    assert rules.first_reply_seconds(t0, None) == (None, None)
    assert rules.first_reply_seconds(t0, t0.replace(hour=11))[1] == "first reply before creation"


def test_the_fast_path_for_plain_brazilian_numbers_agrees_with_the_library():
    import random

    rng = random.Random(5)
    shapes = [
        "+55 {a} {n}",
        "55{a}{n}",
        "({a}) {n}",
        "{a} {n}",
        "{a}{n}",
        "+55{a}{n}",
        "0{a} {n}",
        "+55 ({a}) {n}",
        "{a}-{n}",
        "55 {a} {n}",
    ]
    for _ in range(3000):
        area = str(rng.randint(10, 99))
        number = str(rng.randint(10**6, 10**9 - 1))
        if rng.random() < 0.5:
            number = number[:4] + "-" + number[4:]
        text = rng.choice(shapes).format(a=area, n=number)
        assert rules.normalise_phone.__wrapped__(text) == rules._library_e164(text), text
