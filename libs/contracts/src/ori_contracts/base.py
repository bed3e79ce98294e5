"""The base model of every contract, the field types they share, and the evolution rule.

A contract is a pydantic model that crosses a process boundary. Two of them are top-level
documents with their own version: `RuntimeConfig` (backend -> worker) and `CallResult`
(worker -> backend). Everything else is nested inside one of them.

Evolution rule:

* Every top-level contract carries `schema_version: int`, its **major** version, and exports
  the version its code implements as a constant (`RUNTIME_CONFIG_SCHEMA_VERSION`,
  `CALL_RESULT_SCHEMA_VERSION`). It starts at 1 and is bumped only by a breaking change: a
  field removed, renamed, retyped or made required, or a meaning changed.
* Additive changes do **not** bump it: a new field must be optional with a default, and
  `ContractModel` ignores unknown fields, so a reader accepts documents from a newer producer
  of the same major version and simply does not see the new fields.
* A reader accepts `1 <= schema_version <= its own` and rejects a higher value, because a
  higher major version means a shape it cannot read. A reader that bumps its major version
  keeps accepting the previous one (migrating it in a `mode="before"` validator) for one
  release, so producers and readers can be rolled out in either order.
* New enum members and new tool types are additive for the producer but an older reader
  rejects them. Roll out readers before producers when adding one.

Golden JSON fixtures in `libs/contracts/tests/fixtures/` make any rename, removal or default
change fail a test.
"""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, JsonValue

__all__ = ["ContractModel", "JsonObject", "UtcDatetime", "check_schema_version"]

JsonObject = dict[str, JsonValue]
"""A JSON object with arbitrary JSON values (provider options, CRM data, tool arguments)."""


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware datetime, normalised to UTC. Naive datetimes are rejected."""


class ContractModel(BaseModel):
    """Base of every contract model: immutable, and tolerant of fields it does not know."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def check_schema_version(value: int, *, current: int, contract: str) -> int:
    """Validate a document's major `schema_version` against the reader's.

    Args:
        value: The `schema_version` found in the document.
        current: The major version this code implements.
        contract: The contract's name, for the error message.

    Returns:
        The value, unchanged, when this reader can read it.

    Raises:
        ValueError: If the version is below 1 or newer than `current`.
    """
    if value < 1:
        raise ValueError(f"{contract} schema_version must be >= 1, got {value}")
    if value > current:
        raise ValueError(
            f"{contract} schema_version {value} is newer than this reader's {current}; "
            "upgrade the reader"
        )
    return value
