"""Ids, phone numbers and other addresses."""

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from ori_contracts import E164, CallId, ContactId, LanguageTag, SipUri, new_call_id

pytestmark = pytest.mark.unit

call_ids: TypeAdapter[str] = TypeAdapter(CallId)
contact_ids: TypeAdapter[str] = TypeAdapter(ContactId)
phones: TypeAdapter[str] = TypeAdapter(E164)
sip_uris: TypeAdapter[str] = TypeAdapter(SipUri)
languages: TypeAdapter[str] = TypeAdapter(LanguageTag)


def test_new_call_id_is_a_valid_call_id() -> None:
    call_id = new_call_id()
    assert call_ids.validate_python(call_id) == call_id
    assert call_id.startswith("call_")
    assert len(call_id) == len("call_") + 32


def test_new_call_ids_sort_by_creation_time() -> None:
    earlier = new_call_id(now=datetime(2026, 1, 1, tzinfo=UTC))
    later = new_call_id(now=datetime(2026, 1, 1, 0, 0, 0, 1000, tzinfo=UTC))
    assert earlier < later


def test_new_call_ids_are_unique() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert len({new_call_id(now=moment) for _ in range(1000)}) == 1000


@pytest.mark.parametrize("good", ["a", "call_0194", "bot-1.v2", "A" * 128])
def test_safe_ids_are_accepted(good: str) -> None:
    assert call_ids.validate_python(good) == good


@pytest.mark.parametrize("bad", ["", "-lead", "a:b", "a b", "a*", "a/b", "A" * 129, "ключ", "a\n"])
def test_unsafe_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        call_ids.validate_python(bad)


def test_contact_ids_may_contain_a_colon() -> None:
    assert contact_ids.validate_python("hubspot:1042") == "hubspot:1042"


@pytest.mark.parametrize("good", ["+14155550142", "+919876543210", "+4930123456"])
def test_e164_numbers_are_accepted(good: str) -> None:
    assert phones.validate_python(good) == good


@pytest.mark.parametrize(
    "bad",
    ["14155550142", "+04155550142", "+1 415 555 0142", "+1415555014212345", "+12345", "+١٢٣٤٥٦٧٨"],
)
def test_malformed_phone_numbers_are_rejected(bad: str) -> None:
    with pytest.raises(ValidationError):
        phones.validate_python(bad)


@pytest.mark.parametrize(
    ("adapter", "good"), [(sip_uris, "sip:desk@pbx.example.com"), (languages, "es-419")]
)
def test_other_addresses_are_accepted(adapter: TypeAdapter[str], good: str) -> None:
    assert adapter.validate_python(good) == good


@pytest.mark.parametrize(
    ("adapter", "bad"), [(sip_uris, "tel:+14155550142"), (languages, "english")]
)
def test_other_malformed_addresses_are_rejected(adapter: TypeAdapter[str], bad: str) -> None:
    with pytest.raises(ValidationError):
        adapter.validate_python(bad)
