"""How the operator reads the backend's refusals: the `Problem` body, its row problems."""

from __future__ import annotations

import httpx
import pytest

from ori_operator.backend import _rejected

pytestmark = pytest.mark.unit


def test_a_refused_contact_list_names_its_first_rows_and_counts_them() -> None:
    details = [
        {"row": 2, "column": "phone", "message": "'12' is not a valid phone number"},
        {"row": 2, "column": "timezone", "message": "'Mars/Base' is not an IANA time zone"},
        {"row": 7, "column": "phone", "message": "+14155550101 appears earlier in the file"},
    ]
    problem = {"code": "validation_error", "message": "2 invalid row(s); nothing was imported"}
    error = _rejected(httpx.Response(422, json={**problem, "details": details}))
    assert (error.status, error.invalid_rows()) == (422, 2)
    assert str(error) == (
        "2 invalid row(s); nothing was imported: row 2 phone: '12' is not a valid phone number; "
        "row 2 timezone: 'Mars/Base' is not an IANA time zone; "
        "row 7 phone: +14155550101 appears earlier in the file"
    )


def test_field_problems_and_bodies_that_are_not_problems_still_read_clearly() -> None:
    fields = {"message": "body.name: too short", "details": [{"loc": ["body"], "msg": "bad"}]}
    error = _rejected(httpx.Response(422, json=fields))
    assert (str(error), error.invalid_rows()) == ("body.name: too short: bad", None)
    assert (
        str(_rejected(httpx.Response(403, text="<html>no</html>"))) == "HTTP 403: <html>no</html>"
    )
    assert str(_rejected(httpx.Response(400, json=["odd"]))) == "HTTP 400: ['odd']"
