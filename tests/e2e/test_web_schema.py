"""schemathesis against the daemon's OpenAPI schema (issue 13), with an owner session: no 5xx, every response
conforms to its schema (body, content type, headers) and has a documented status code.

The schema is fetched as the owner (it is served only to one); the generated requests carry the session cookie,
the CSRF header, `Host: localhost` and the page's Origin, as the page's own requests do. The password is
re-entered first, so the guarded actions (export, erase-all) run too rather than all answering 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Err

from support.browser import Daemon, Owner, daemon_env, owner_session, running_daemon

pytestmark = pytest.mark.models  # `papo run` loads the speech models

MAX_EXAMPLES = 25  # per operation: bounds the run (well under 2 minutes on two cores)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def owned(tmp_path_factory: pytest.TempPathFactory, shared_models: Path) -> Iterator[tuple[Daemon, Owner]]:
    """A claimed daemon (no microphone, no voice) and its owner's session."""
    state = tmp_path_factory.mktemp("schema") / "state"
    state.mkdir()
    (state / "models").symlink_to(shared_models)
    with running_daemon(daemon_env(state, {"PAPO_CONVERSATION__ENABLED": "false"})) as daemon:
        with owner_session(daemon) as owner:
            yield daemon, owner
        daemon.stop()


def _fuzzed(schema: schemathesis.BaseSchema) -> schemathesis.BaseSchema:
    """The operations to fuzz: all but those that end the session every later example needs (logging out;
    restarting the daemon, whose sessions live in memory) and verifying the models again, which hashes every
    model file (minutes per example on a Pi or on two shared cores)."""
    return (
        schema.exclude(path_regex=r"^/api/v1/session$", method="DELETE")
        .exclude(path_regex=r"^/api/v1/restart$")
        .exclude(path_regex=r"/verify$")
    )


def _session(owner: Owner) -> requests.Session:
    """A requests session that is the owner's: cookies, CSRF header, Host and Origin of the page."""
    http = requests.Session()
    http.headers.update(owner.headers())
    for name, value in owner.client.cookies.items():
        http.cookies.set(name, value)
    return http


def test_the_api_honours_its_schema(owned: tuple[Daemon, Owner]) -> None:
    daemon, owner = owned
    answer = owner.request("GET", "/schema/openapi.json")
    assert answer.status_code == 200, answer.text
    schema = _fuzzed(schemathesis.openapi.from_dict(answer.json()))
    # Fuzzed one operation at a time with Hypothesis directly: schemathesis' pytest plugin (from_fixture) does
    # not run on pytest 9. Every operation is tried; the failures of all of them are reported together.
    owner.confirm_password()  # so erase-all and export run rather than all answering 403; it lasts 5 minutes
    http = _session(owner)
    failures: dict[str, str] = {}
    tried = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation whose own schema is broken is a failure too
            failures[f"invalid operation {len(failures)}"] = str(result.err())
            continue
        operation = result.ok()
        tried.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case[Any]) -> None:
            case.call_and_validate(base_url=daemon.base, session=http, checks=CHECKS)

        try:
            fuzz()
        except (AssertionError, BaseExceptionGroup) as failure:
            failures[operation.label] = str(failure)
    assert any(label.startswith("DELETE /api/v1/conversations/turns") for label in tried), tried
    assert not failures, (
        "\n".join(f"{label}: {_summary(text)}" for label, text in failures.items())
        + "\n\n"
        + ("\n\n".join(f"{label}\n{text[:3000]}" for label, text in failures.items()))
    )


def _summary(failure: str) -> str:
    """The failed checks of one operation, with what was received and documented, on one line."""
    keep = ("- ST", "Received:", "Documented:", "Validated against")
    return " | ".join(line.strip() for line in failure.splitlines() if line.strip().startswith(keep))
