from __future__ import annotations

import pytest
from pydantic import ValidationError

from ori_contracts.wire import AttachRequest, ConfigRequest, results_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("config_url", "expected"),
    [
        ("http://localhost:8080/api/v1/config", "http://localhost:8080/api/v1/call-results"),
        ("http://backend:8080/api/v1/config/", "http://backend:8080/api/v1/call-results"),
        (
            "https://ori.example.com/voice/api/v1/config",
            "https://ori.example.com/voice/api/v1/call-results",
        ),
        ("http://backend:8080/custom", "http://backend:8080/api/v1/call-results"),
    ],
)
def test_results_url_is_derived_from_the_config_url(config_url: str, expected: str) -> None:
    assert results_url(config_url) == expected


def test_config_request_rejects_a_bad_number_and_an_unsafe_id() -> None:
    with pytest.raises(ValidationError):
        ConfigRequest.model_validate(
            {"call_id": "call_1", "direction": "inbound", "telephony": "twilio", "from_number": "1"}
        )
    with pytest.raises(ValidationError):
        ConfigRequest.model_validate(
            {"call_id": "a:b", "direction": "inbound", "telephony": "twilio"}
        )


def test_attach_request_needs_a_room() -> None:
    with pytest.raises(ValidationError):
        AttachRequest(call_id="call_1", room="")
