"""Every error answers one `Problem` body: raised by a service, by FastAPI, or by validation."""

from __future__ import annotations

import httpx
import pytest
from bson.errors import InvalidDocument
from fastapi import FastAPI

from ori_backend import errors

pytestmark = pytest.mark.unit


def app() -> FastAPI:
    api = FastAPI()
    errors.install(api)

    @api.get("/conflict")
    async def conflict() -> None:
        raise errors.TooManyRequests("slow down", headers={"Retry-After": "7"})

    @api.get("/items/{number}")
    async def item(number: int) -> dict[str, int]:
        return {"number": number}

    @api.get("/unstorable")
    async def unstorable() -> None:
        raise InvalidDocument("key '$x' must not start with '$'")

    return api


async def ask(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://errors") as http:
        return await http.request(method, path)


async def test_a_service_error_keeps_its_status_code_and_headers() -> None:
    answer = await ask("GET", "/conflict")
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "7")
    assert answer.json() == {"code": "too_many_requests", "message": "slow down"}


async def test_framework_errors_get_the_same_codes_as_the_classes() -> None:
    missing, wrong_method = await ask("GET", "/nowhere"), await ask("POST", "/conflict")
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")


async def test_validation_and_unstorable_input_are_422_with_where_and_what() -> None:
    invalid = await ask("GET", "/items/seven")
    assert invalid.status_code == 422
    body = invalid.json()
    assert (body["code"], body["message"]) == (
        "validation_error",
        "path.number: Input should be a valid integer, unable to parse string as an integer",
    )
    assert body["details"][0]["loc"] == ["path", "number"]
    unstorable = await ask("GET", "/unstorable")
    assert (unstorable.status_code, unstorable.json()["code"]) == (422, "validation_error")
    assert unstorable.json()["message"].startswith("the input cannot be stored: key '$x'")


def test_every_error_class_has_its_own_status_and_code() -> None:
    classes = [errors.BadRequest, errors.Unauthorized, errors.Forbidden, errors.NotFound,
               errors.Conflict, errors.PayloadTooLarge, errors.Unprocessable,
               errors.TooManyRequests, errors.ServiceUnavailable]  # fmt: skip
    assert len({c.status for c in classes}) == len({c.code for c in classes}) == len(classes)
