"""The errors the records API documents and raises (the OpenAPI schema lists each one a handler can answer)."""

from __future__ import annotations

from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

OWNER: list[type[HTTPException]] = [NotAuthorizedException, PermissionDeniedException]
"""A route behind `owner_required`: 401 without a session, 403 before the device is claimed."""
WITH_ID = [*OWNER, NotFoundException]
"""A route naming a record: also 404 for an unknown id."""
WITH_BODY = [*OWNER, ValidationException]
"""A route taking a body or query: also 400 for invalid input (the field and the reason in `extra`)."""
WITH_ID_AND_BODY = [*WITH_ID, ValidationException]
"""A route naming a record and taking a body."""


def not_found(what: str, record_id: str) -> NotFoundException:
    """404 saying what was not found (the id only; never what was said)."""
    return NotFoundException(f"no {what} with id {record_id!r}")
