"""The request and response bodies of the setup and session API (pydantic: they make the OpenAPI schema exact)."""

from __future__ import annotations

from litestar.openapi.datastructures import ResponseSpec
from pydantic import BaseModel, Field


class SetupRequest(BaseModel):
    """Claim the device: the code Papo said and the owner's new password."""

    code: str = Field(min_length=1, max_length=32, description="The 9-digit setup code (spaces allowed)")
    password: str = Field(min_length=1, max_length=1024, description="The owner's new password (10+ characters)")
    name: str = Field(default="", max_length=60, description="How the owner is shown in the change log")


class SetupForm(BaseModel):
    """The setup page's form when sent without JavaScript (empty fields are refused with the page's own words)."""

    code: str = Field(default="", max_length=32)
    password: str = Field(default="", max_length=1024)
    name: str = Field(default="", max_length=60)


class PasswordRequest(BaseModel):
    """The owner's password (login, or entering it again before a destructive action)."""

    password: str = Field(min_length=1, max_length=1024)


class LoginForm(BaseModel):
    """The login page's form when sent without JavaScript."""

    password: str = Field(default="", max_length=1024)
    next: str = Field(default="/", max_length=2000)


class NewPassword(BaseModel):
    """The owner's new password (the current one was entered again within 5 minutes)."""

    password: str = Field(min_length=1, max_length=1024, description="10+ characters, not a common one")


class Done(BaseModel):
    """The request succeeded; `next` is where the page goes on."""

    ok: bool = True
    next: str = "/"


class CodeState(BaseModel):
    """Whether a setup code was said aloud now (false when there is no speaker: use `papo setup-code`)."""

    spoken: bool
    valid_s: int


class FieldError(BaseModel):
    """A refused field: its name and why."""

    detail: str
    field: str


class Refusal(BaseModel):
    """Why a request was refused."""

    status_code: int
    detail: str


TOO_MANY = "Too many wrong tries from this address (or overall) within a minute; see Retry-After"


def refusals(**described: str) -> dict[int, ResponseSpec]:
    """The refusals a handler documents (`r429="..."`), each with the `{status_code, detail}` body."""
    return {int(key[1:]): ResponseSpec(data_container=Refusal, description=text) for key, text in described.items()}


def field_refusal(description: str, **described: str) -> dict[int, ResponseSpec]:
    """A 400 naming the refused field, and other refusals."""
    return {400: ResponseSpec(data_container=FieldError, description=description), **refusals(**described)}
