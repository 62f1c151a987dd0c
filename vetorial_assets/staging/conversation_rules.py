"""Pure rules of staging.conversations (docs/business-rules.md §4): the LGPD contact key,
status text, messy booleans and AI scores, local dates, first-reply time.

Each normaliser returns (value, problem): `problem` is None when the input was usable
(or absent), else why it was not; the caller stores NULL and records the problem in
ops.rejected_values. Nothing here does I/O or reads the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers

LOCAL_ZONE = ZoneInfo("America/Sao_Paulo")

STATUS_BY_CODE = {0: "open", 1: "resolved", 2: "pending", 3: "snoozed"}
STATUSES = frozenset(STATUS_BY_CODE.values())

TRUE_WORDS = frozenset({"true", "t", "sim", "s", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "nao", "n", "no", "0"})


# ----------------------------------------------------------------------------- contact key


def _brazilian_national(text: str) -> str | None:
    """The 10- or 11-digit national number of a plainly written Brazilian phone (digits,
    spaces, dashes, parentheses, optional +55 or 55), ninth digit inserted; None when it is
    anything else (the library decides those). A fast path: phonenumbers.parse is the
    transform's main cost (docs/design.md). test_conversation_rules holds it equal to the
    library's answer."""
    plus = text.startswith("+")
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != sum(ch.isdigit() for ch in text) or any(ch not in "+0123456789 -()." for ch in text):
        return None
    if digits.startswith("55") and len(digits) in (12, 13):
        national = digits[2:]
    elif not plus and len(digits) in (10, 11):
        national = digits
    else:
        return None
    if national[0] == "0" or national[1] == "0":
        return None  # no Brazilian area code has a 0
    if len(national) == 11:
        return national if national[2] == "9" else None
    return national[:2] + "9" + national[2:] if national[2] in "6789" else national


@lru_cache(maxsize=65536)
def normalise_phone(raw: str | None) -> str | None:
    """E.164 of a phone as Chatwoot/WhatsApp send it (region BR when no country code), or
    None when it is no phone number. A Brazilian mobile without its ninth digit (area code
    + 8 digits starting 6-9, as old WhatsApp ids are) gets the 9 inserted, so both forms of
    one person's number are one number."""
    if raw is None:
        return None
    text = str(raw).strip().split("@", 1)[0].strip()  # WhatsApp ids: 5511987654321@s.whatsapp.net
    if not any(ch.isdigit() for ch in text):
        return None
    national = _brazilian_national(text)
    if national is not None:
        return "+55" + national
    return _library_e164(text)


def _library_e164(text: str) -> str | None:
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and digits.startswith("55") and len(digits) in (12, 13):
        text = "+" + digits  # country code without the plus (WhatsApp ids)
    try:
        number = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        return None
    national = str(number.national_number)
    if number.country_code == 55 and len(national) == 10 and national[2] in "6789":
        national = national[:2] + "9" + national[2:]
        number = phonenumbers.PhoneNumber(country_code=55, national_number=int(national))
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = str(raw).strip().lower()
    return text if "@" in text else None


def contact_key(phone: str | None, email: str | None, salt: bytes) -> str | None:
    """HMAC-SHA256 (hex) keyed by the LGPD salt of the normalised phone or, without a
    usable phone, the normalised e-mail; None for an anonymous visitor. The kind is part of
    the message, so a phone and an e-mail can never share a key."""
    if not salt:
        raise ValueError("the LGPD salt is empty")
    e164 = normalise_phone(phone)
    if e164 is not None:
        message = "phone:" + e164
    else:
        address = normalise_email(email)
        if address is None:
            return None
        message = "email:" + address
    return hmac.new(salt, message.encode("utf-8"), hashlib.sha256).hexdigest()


# ----------------------------------------------------------------------------- values


def _folded(text: str) -> str:
    """Trimmed, lower-cased, accents removed ('Não' -> 'nao')."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def status_text(raw) -> tuple[str | None, str | None]:
    """Chatwoot's status enum (0 open, 1 resolved, 2 pending, 3 snoozed; as int or digit
    text) or its text, trimmed and lower-cased. Unknown text is kept as it is (lower-cased)
    and reported."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return None, "a boolean is no status"
    if isinstance(raw, int):
        return (STATUS_BY_CODE[raw], None) if raw in STATUS_BY_CODE else (None, "unknown status code")
    text = str(raw).strip().lower()
    if text == "":
        return None, None
    if text.isdigit():
        return status_text(int(text))
    return text, (None if text in STATUSES else "unknown status")


def boolean(raw) -> tuple[bool | None, str | None]:
    """true/false, t/f, sim/não/nao, s/n, yes/no, y/n, 1/0 (case- and accent-insensitive);
    Python/SQL booleans as they are. Anything else: None and a problem."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw), None
    if isinstance(raw, str):
        word = _folded(raw)
        if word == "":
            return None, None
        if word in TRUE_WORDS:
            return True, None
        if word in FALSE_WORDS:
            return False, None
    return None, "not a yes/no value"


def probability(raw) -> tuple[Decimal | None, str | None]:
    """An AI probability on the 0..1 scale. Values in (1, 100] are percentages (divided by
    100); 1 itself reads as 1.0. Text may use a decimal comma. Outside [0, 100], not a
    number, NaN or infinite: None and a problem."""
    if raw is None or isinstance(raw, bool):
        return None, (None if raw is None else "a boolean is no probability")
    try:
        if isinstance(raw, str):
            text = raw.strip()
            if text == "":
                return None, None
            if "," in text:
                if "." in text:
                    return None, "ambiguous decimal separators"
                text = text.replace(",", ".")
            value = Decimal(text)
        else:
            value = Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw)
    except (InvalidOperation, ValueError, TypeError):
        return None, "not a number"
    if not value.is_finite():
        return None, "not a finite number"
    if value < 0 or value > 100:
        return None, "outside 0..100"
    return (value / 100 if value > 1 else value), None


def local_date(created_at: datetime | None, updated_at: datetime | None = None) -> date | None:
    """The America/Sao_Paulo calendar date of the conversation's creation (of its last
    update when the creation time is missing)."""
    moment = created_at or updated_at
    if moment is None or moment.tzinfo is None:
        return None
    return moment.astimezone(LOCAL_ZONE).date()


def first_reply_seconds(
    created_at: datetime | None, first_response_at: datetime | None
) -> tuple[float | None, str | None]:
    """Seconds from creation to the first agent reply; None without a reply. A reply before
    the conversation existed is a bad timestamp: None and a problem."""
    if created_at is None or first_response_at is None:
        return None, None
    seconds = (first_response_at - created_at).total_seconds()
    if seconds < 0:
        return None, "first reply before creation"
    return seconds, None


# ----------------------------------------------------------------------------- one row

STAGING_COLUMNS = (
    "conversation_id",
    "tenant_id",
    "account_id",
    "inbox_id",
    "inbox_name",
    "channel_type",
    "contact_key",
    "status",
    "assignee_id",
    "labels",
    "created_at",
    "updated_at",
    "first_response_at",
    "first_reply_seconds",
    "conversation_date",
    "message_count",
    "is_lead",
    "visit_scheduled",
    "crm_converted",
    "ai_probability_label",
    "ai_probability_score",
    "is_deleted",
    "deleted_at",
)


def to_staging(raw: dict, salt: bytes) -> tuple[dict, list[tuple[str, str, object]]]:
    """A raw.conversas_analytics row (as selected by staging/sql/raw_conversations.sql) ->
    (staging.conversations row, [(column, problem, raw value)]). The contact's name, phone
    and e-mail go into the key only."""
    problems: list[tuple[str, str, object]] = []

    def take(column: str, result: tuple, value) -> object:
        out, problem = result
        if problem:
            problems.append((column, problem, value))
        return out

    created, updated = raw["conversation_created_at"], raw["conversation_updated_at"]
    label = raw.get("ai_probability_label")
    row = {
        "conversation_id": raw["conversation_id"],
        "tenant_id": raw["tenant_id"],
        "account_id": raw["account_id"],
        "inbox_id": raw["inbox_id"],
        "inbox_name": raw["inbox_name"],
        "channel_type": raw["channel_type"],
        "contact_key": contact_key(raw["contact_phone"], raw["contact_email"], salt),
        "status": take("status", status_text(raw["status"]), raw["status"]),
        "assignee_id": raw["assignee_id"],
        "labels": raw["labels"],
        "created_at": created,
        "updated_at": updated,
        "first_response_at": raw["first_response_at"],
        "first_reply_seconds": take(
            "first_reply_seconds", first_reply_seconds(created, raw["first_response_at"]), raw["first_response_at"]
        ),
        "conversation_date": raw.get("conversation_date") or local_date(created, updated),
        "message_count": raw["message_count"],
        "is_lead": take("is_lead", boolean(raw["is_lead"]), raw["is_lead"]),
        "visit_scheduled": take("visit_scheduled", boolean(raw["visit_scheduled"]), raw["visit_scheduled"]),
        "crm_converted": take("crm_converted", boolean(raw["crm_converted"]), raw["crm_converted"]),
        "ai_probability_label": label.strip().lower() or None if isinstance(label, str) else label,
        "ai_probability_score": take(
            "ai_probability_score", probability(raw["ai_probability_score"]), raw["ai_probability_score"]
        ),
        "is_deleted": raw["deleted_at"] is not None,
        "deleted_at": raw["deleted_at"],
    }
    return row, problems
