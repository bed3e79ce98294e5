"""Contact CSV rows: streamed decoding, and validation of one row at a time. Pure code.

A file is UTF-8 (a byte-order mark is allowed) with a header row. ``phone`` (or
``phone_number``, ``number``) is required; ``name``, ``timezone`` and ``id`` (or
``contact_id``) are optional; every other column goes into ``custom_fields``. Numbers are
normalised to E.164 (read in the workspace's default country when written without ``+``); the
time zone comes from the ``timezone`` column or is inferred from the number, falling back to
the campaign's ``default_timezone``.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import timezone as phone_timezones

from ori_backend.errors import BadRequest, Unprocessable

__all__ = ["RowError", "RowRules", "csv_rows", "validate_header", "validate_row"]

PHONE_COLUMNS: Final = ("phone", "phone_number", "number")
ID_COLUMNS: Final = ("id", "contact_id")
MAX_FIELD_CHARS: Final = 10_000
_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


@dataclass(frozen=True)
class RowError:
    """One problem in one row (``row`` counts data rows from 1; the header is row 0)."""

    row: int
    column: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The error as a `Problem` detail."""
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class RowRules:
    """What a row is checked against: the country, fallback zone, known and barred numbers."""

    default_country: str
    default_timezone: str | None
    existing_phones: set[str] = field(default_factory=set)
    existing_ids: set[str] = field(default_factory=set)
    dnc_phones: set[str] = field(default_factory=set)
    seen_phones: set[str] = field(default_factory=set)
    seen_ids: set[str] = field(default_factory=set)
    skip_existing: bool = False
    """A number or id already in the campaign is no error: the row is skipped (`already_in`)."""

    def already_in(self, fields: dict[str, Any]) -> bool:
        """Whether a valid row is skipped: its contact is already in the campaign."""
        return self.skip_existing and (
            fields["phone"] in self.existing_phones or fields["id"] in self.existing_ids
        )


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    offset, pending, first = 0, "", True
    async for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as error:
            at = offset + error.start
            raise BadRequest(f"the file is not UTF-8 text (invalid byte at offset {at})") from None
        offset += len(chunk)
        if first and text:
            text, first = text.removeprefix("\ufeff"), False
        pending += text
        lines = pending.splitlines(keepends=True)
        pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        for line in lines:
            yield line
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise BadRequest("the file ends inside a UTF-8 character") from None
    if pending:
        yield pending


async def csv_rows(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str]]:
    """Parse a streamed CSV body into rows (blank lines skipped), holding one record at a time.

    Raises:
        BadRequest: The body is not UTF-8 or not parseable CSV.
    """
    record = ""
    async for line in _lines(chunks):
        record += line
        if record.count('"') % 2:  # inside a quoted field that spans lines
            continue
        try:
            rows = list(csv.reader([record], strict=True))
        except csv.Error as error:
            raise BadRequest(f"malformed CSV: {error}") from None
        record = ""
        for row in rows:
            if row:
                yield row
    if record:
        raise BadRequest("malformed CSV: the file ends inside a quoted field")


def validate_header(row: list[str]) -> list[str]:
    """Normalised column names.

    Raises:
        Unprocessable: No phone column, or a duplicate or empty column name.
    """
    names = [name.strip().lower() for name in row]
    if not any(name in PHONE_COLUMNS for name in names):
        raise Unprocessable("the header has no phone column (phone, phone_number or number)")
    if any(not name for name in names) or len(set(names)) != len(names):
        raise Unprocessable("column names in the header must be non-empty and unique")
    return names


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_row(
    number: int, header: list[str], row: list[str], rules: RowRules
) -> tuple[dict[str, Any] | None, list[RowError]]:
    """Check one data row; returns the contact's fields, or None and the row's errors."""
    if len(row) != len(header):
        return None, [RowError(number, "*", f"has {len(row)} fields, the header has {len(header)}")]
    values = {name: value.strip() for name, value in zip(header, row, strict=True)}
    errors: list[RowError] = []
    if any(len(value) > MAX_FIELD_CHARS for value in values.values()):
        errors.append(RowError(number, "*", f"a field is longer than {MAX_FIELD_CHARS} characters"))
    phone_column = next(name for name in header if name in PHONE_COLUMNS)
    phone, parsed = _phone(values.pop(phone_column), number, phone_column, rules, errors)
    contact_id = _contact_id(values, number, rules, errors)
    zone = _timezone(values.pop("timezone", ""), parsed, number, rules, errors)
    if errors:
        return None, errors
    name = values.pop("name", "") or None
    custom = {key: value for key, value in values.items() if value}
    return {
        "id": contact_id,
        "phone": phone,
        "name": name,
        "timezone": zone,
        "custom_fields": custom,
    }, []


def _phone(
    raw: str, number: int, column: str, rules: RowRules, errors: list[RowError]
) -> tuple[str, phonenumbers.PhoneNumber | None]:
    try:
        parsed = phonenumbers.parse(raw, rules.default_country)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        errors.append(RowError(number, column, f"{raw!r} is not a valid phone number"))
        return "", None
    phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if phone in rules.seen_phones:
        errors.append(RowError(number, column, f"{phone} appears earlier in the file"))
    elif phone in rules.existing_phones:  # skipped with skip_existing, before do-not-call
        if not rules.skip_existing:
            message = f"{phone} is already a contact of this campaign"
            errors.append(RowError(number, column, message))
    elif phone in rules.dnc_phones:
        errors.append(RowError(number, column, f"{phone} is on the do-not-call list"))
    rules.seen_phones.add(phone)
    return phone, parsed


def _contact_id(
    values: dict[str, str], number: int, rules: RowRules, errors: list[RowError]
) -> str | None:
    column = next((c for c in ID_COLUMNS if c in values), None)
    raw = values.pop(column, "") if column else ""
    if not raw:
        return None
    if len(raw) > 128 or not raw[0].isalnum() or not set(raw) <= _ID_CHARS:
        errors.append(RowError(number, column or "id", f"{raw!r} is not a valid contact id"))
    elif raw in rules.seen_ids:
        errors.append(RowError(number, column or "id", f"id {raw!r} appears earlier in the file"))
    elif raw in rules.existing_ids and not rules.skip_existing:
        errors.append(RowError(number, column or "id", f"id {raw!r} is already in this campaign"))
    rules.seen_ids.add(raw)
    return raw


def _timezone(
    raw: str,
    parsed: phonenumbers.PhoneNumber | None,
    number: int,
    rules: RowRules,
    errors: list[RowError],
) -> str:
    if raw:
        if raw not in _zones():
            errors.append(RowError(number, "timezone", f"{raw!r} is not an IANA time zone"))
        return raw
    if parsed is not None:
        zones = [z for z in phone_timezones.time_zones_for_number(parsed) if z in _zones()]
        if rules.default_timezone in zones or (not zones and rules.default_timezone):
            return str(rules.default_timezone)
        if zones:
            return zones[0]
        errors.append(
            RowError(number, "timezone", "cannot infer a time zone; add a timezone column")
        )
    return ""
