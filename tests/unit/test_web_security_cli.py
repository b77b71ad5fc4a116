"""`papo setup-code` and `papo reset-owner` (issue 13): the console's side of claiming the web page."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from papo.cli import main
from papo.web.security.owner import OwnerFile
from papo.web.security.setup_code import SetupCodes
from support.web import OWNER_PASSWORD, claim, client, csrf, owner_client, web_app


def printed_code(out: str) -> str:
    match = re.search(r"Setup code: (\d{3}) (\d{3}) (\d{3})", out)
    assert match is not None, out
    return "".join(match.groups())


def test_setup_code_prints_the_code_the_page_takes(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = web_app(state_dir.parent)
    assert main(["setup-code"]) == 0
    code = printed_code(capsys.readouterr().out)
    assert SetupCodes(state_dir).check(code)
    with client(app) as anyone:
        answer = anyone.post("/api/v1/setup", json={"code": code, "password": OWNER_PASSWORD},
                             headers={"x-csrftoken": csrf(anyone)})  # fmt: skip
        assert answer.status_code == 201
    assert main(["setup-code"]) == 1
    assert "already has an owner" in capsys.readouterr().err


def test_a_new_code_replaces_the_printed_one(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["setup-code"]) == 0
    first = printed_code(capsys.readouterr().out)
    assert main(["setup-code"]) == 0
    second = printed_code(capsys.readouterr().out)
    codes = SetupCodes(state_dir)
    assert codes.check(second) and (first == second or not codes.check(first))


def test_reset_owner_reopens_setup_and_ends_sessions(state_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = web_app(state_dir.parent)
    with owner_client(app) as owner:
        assert owner.get("/schema/openapi.json").status_code == 200
        assert main(["reset-owner"]) == 1  # not a terminal and no --yes: nothing is changed
        assert "--yes" in capsys.readouterr().err and OwnerFile(state_dir).exists()
        assert main(["reset-owner", "--yes"]) == 0
        assert "Setup is open again" in capsys.readouterr().out
        assert not OwnerFile(state_dir).exists()
        assert owner.get("/schema/openapi.json").status_code == 403
        assert owner.get("/configurar").status_code == 200


def test_only_root_or_the_service_user_may_reset(state_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    OwnerFile(state_dir).create("Ana", OWNER_PASSWORD)
    someone_else = state_dir.stat().st_uid + 1000
    monkeypatch.setattr(os, "geteuid", lambda: someone_else)
    assert main(["reset-owner", "--yes"]) == 1
    assert main(["setup-code"]) == 1
    assert "only root or the companion service's user" in capsys.readouterr().err
    assert OwnerFile(state_dir).exists()


def test_the_page_writes_the_code_to_the_journal_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = web_app(tmp_path)
    with caplog.at_level(logging.INFO), client(app) as anyone:
        assert anyone.get("/configurar").status_code == 200
        assert anyone.get("/configurar").status_code == 200  # the same code, not a new line
        issued = [r for r in caplog.records if r.getMessage() == "setup code issued"]
        assert len(issued) == 1
        code = issued[0].__dict__["code"]
        assert app.state["accounts"].codes.check(code)
        claim(anyone)
        mentions = [r for r in caplog.records if code in r.getMessage() or code in str(r.__dict__.get("code", ""))]
        assert mentions == issued
        assert not any(OWNER_PASSWORD in str(r.__dict__) for r in caplog.records)
