"""The web page's security (issue 13): Host allow-list, cross-site refusal, claiming, sessions, headers, schema."""

from __future__ import annotations

import math
import stat
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Litestar, Request

from papo.web.security.accounts import Accounts
from papo.web.security.passwords import common_passwords, password_problem
from papo.web.security.setup_code import DIGITS, ENTROPY_BITS, SetupCodes, new_code, spoken, trivial
from support.web import OWNER_PASSWORD, claim, client, csrf, owner_client, web_app

EVIL = {"host": "evil.example"}
PAGES = ["/", "/conversas", "/ajustes", "/entrar"]


@pytest.fixture
def app(tmp_path: Path) -> Litestar:
    return web_app(tmp_path)


def accounts(app: Litestar) -> Accounts:
    found: Accounts = app.state["accounts"]
    return found


# --- Host allow-list (DNS rebinding) ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/configurar", "/entrar", "/api/v1/session", "/static/app.js",
                                  "/api/v1/status/events", "/schema/openapi.json", "/no-such-page"])  # fmt: skip
def test_an_unknown_host_is_refused_on_every_route(app: Litestar, path: str) -> None:
    with client(app) as anyone:
        assert anyone.get(path, headers=EVIL).status_code == 400
        assert anyone.post(path, headers=EVIL, json={}).status_code == 400


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080"])
def test_local_names_are_allowed(app: Litestar, host: str) -> None:
    with client(app) as anyone:
        assert anyone.get("/health", headers={"host": host}).status_code == 200


def test_the_mdns_name_is_allowed_and_lookalikes_are_not(app: Litestar) -> None:
    from papo.web.security.hosts import mdns_name

    name = mdns_name("papo-local")
    assert name.startswith("papo-") and name.endswith(".local") and len(name) == len("papo-xxxx.local")
    with client(app) as anyone:
        assert anyone.get("/health", headers={"host": f"{name}:8080"}).status_code == 200
        assert anyone.get("/health", headers={"host": f"{name}.evil.example"}).status_code == 400
        assert anyone.get("/health", headers={"host": f"x{name}"}).status_code == 400


def test_the_machine_addresses_are_allowed_and_looked_at_again() -> None:
    from papo.web.security.hosts import HostAllowList

    addresses = {"192.168.1.20"}
    now = [0.0]
    allow = HostAllowList({"papo-abcd.local"}, addresses=lambda: set(addresses), clock=lambda: now[0])
    assert allow.allows("192.168.1.20:8080") and not allow.allows("192.168.1.21")
    addresses.add("192.168.1.21")  # DHCP gave a new address
    now[0] += 10
    assert allow.allows("192.168.1.21") and not allow.allows("") and not allow.allows(None)


# --- claiming ------------------------------------------------------------------------------------------------------


def test_before_an_owner_only_setup_static_and_health_answer(app: Litestar) -> None:
    with client(app) as anyone:
        for path in [*PAGES, "/api/v1/conversations", "/schema/openapi.json"]:
            assert anyone.get(path).status_code == 403, path
        assert anyone.get("/health").status_code == 200
        assert anyone.get("/static/app.js").status_code == 200
        assert anyone.get("/configurar").status_code == 200
        assert "/configurar" in anyone.get("/").text


def test_setup_code_has_9_digits_from_the_random_source_and_no_trivial_ones() -> None:
    codes = {new_code() for _ in range(300)}
    assert len(codes) == 300 and all(len(c) == DIGITS and c.isdigit() for c in codes)
    assert not any(trivial(c) for c in codes)
    assert ENTROPY_BITS >= 27 and math.log2(10**DIGITS - 10**6) >= 27  # the refused codes cost almost nothing
    for code in ["111111111", "123456789", "987654321", "234567890", "121212121", "123123123", "120012001"]:
        assert trivial(code), code
    assert not trivial("572039184")
    assert spoken("572039184").startswith("O código de configuração é: cinco, sete, dois. zero, três, nove.")


def test_the_code_is_kept_hashed_privately_and_expires(tmp_path: Path) -> None:
    now = [1000.0]
    codes = SetupCodes(tmp_path, clock=lambda: now[0])
    issued = codes.issue()
    path = tmp_path / "web" / "setup-code.json"
    assert issued.code not in path.read_text() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert codes.check(issued.code) and codes.check(f"{issued.code[:3]} {issued.code[3:]}")
    assert not codes.check("000000000")
    now[0] += 599
    assert codes.check(issued.code) and codes.known() == issued
    now[0] += 2
    assert not codes.check(issued.code) and codes.known() is None and not codes.pending()


def test_another_process_issuing_a_code_replaces_the_daemons(tmp_path: Path) -> None:
    daemon, cli = SetupCodes(tmp_path), SetupCodes(tmp_path)
    first = daemon.issue()
    second = cli.issue()
    assert daemon.check(second.code) and not daemon.check(first.code)
    assert daemon.known() is None and daemon.pending()  # the daemon cannot say a code it did not issue


def test_five_wrong_codes_in_a_minute_get_429(app: Litestar) -> None:
    with client(app) as anyone:
        token = csrf(anyone)
        code = accounts(app).codes.issue().code
        wrong = "000000001" if code != "000000001" else "000000002"
        body = {"code": wrong, "password": OWNER_PASSWORD}
        answers = [anyone.post("/api/v1/setup", json=body, headers={"x-csrftoken": token}) for _ in range(5)]
        assert [a.status_code for a in answers] == [400] * 5 and answers[0].json()["field"] == "code"
        refused = anyone.post("/api/v1/setup", json={**body, "code": code}, headers={"x-csrftoken": token})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert not accounts(app).claimed


def test_wrong_codes_from_many_addresses_are_limited_overall(tmp_path: Path) -> None:
    tries = Accounts(tmp_path).setup_tries
    for n in range(5):
        tries.failed(f"10.0.0.{n}")
    assert tries.retry_after("10.0.0.99") > 0


def test_an_expired_code_is_refused(app: Litestar) -> None:
    with client(app) as anyone:
        codes = accounts(app).codes
        code = codes.issue().code
        codes._clock = lambda: time.time() + 601
        answer = anyone.post("/api/v1/setup", json={"code": code, "password": OWNER_PASSWORD},
                             headers={"x-csrftoken": csrf(anyone)})  # fmt: skip
        assert answer.status_code == 400 and answer.json()["field"] == "code"


@pytest.mark.parametrize("password", ["curta", "123mudar", "senha123", "1234567890", "password123", "aaaaaaaaaaaa",
                                      "abababababab"])  # fmt: skip
def test_weak_passwords_are_refused(app: Litestar, password: str) -> None:
    assert password_problem(password) is not None
    with client(app) as anyone:
        code = accounts(app).codes.issue().code
        answer = anyone.post("/api/v1/setup", json={"code": code, "password": password},
                             headers={"x-csrftoken": csrf(anyone)})  # fmt: skip
        assert answer.status_code == 400 and answer.json()["field"] == "password"
        assert not accounts(app).claimed


def test_the_common_list_has_pt_br_passwords() -> None:
    assert {"123mudar", "senha123", "flamengo123"} <= common_passwords() and len(common_passwords()) > 1000
    assert password_problem("cavalo-bateria-grampo") is None


def test_claiming_stores_an_argon2id_hash_and_closes_setup(app: Litestar) -> None:
    with client(app) as anyone:
        claim(anyone)
        owner_file = accounts(app).state_dir / "web" / "owner.json"
        text = owner_file.read_text()
        assert OWNER_PASSWORD not in text and "$argon2id$" in text
        assert stat.S_IMODE(owner_file.stat().st_mode) == 0o600
        assert not (accounts(app).state_dir / "web" / "setup-code.json").exists()
        assert anyone.get("/configurar").status_code == 403
        code = accounts(app).codes.issue().code
        again = anyone.post("/api/v1/setup", json={"code": code, "password": "outra-senha-longa-9"})
        assert again.status_code == 403
        assert anyone.post("/api/v1/setup/code").status_code == 403


# --- sessions ------------------------------------------------------------------------------------------------------


def test_without_a_session_the_api_says_401_and_pages_go_to_login(app: Litestar) -> None:
    with client(app) as anyone:
        claim(anyone)
    with client(app) as stranger:
        assert stranger.get("/api/v1/conversations").status_code == 401
        assert stranger.get("/schema/openapi.json").status_code == 401
        for path in ["/", "/conversas", "/ajustes"]:
            answer = stranger.get(path, follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"] == f"/entrar?next={path}"
        assert stranger.get("/entrar").status_code == 200


def test_login_logout_and_its_rate_limit(app: Litestar) -> None:
    with client(app) as anyone:
        claim(anyone)
    with client(app) as person:
        person.headers["x-csrftoken"] = csrf(person)
        wrong = [person.post("/api/v1/session", json={"password": "nao-e-essa-senha"}).status_code for _ in range(5)]
        assert wrong == [401] * 5
        assert person.post("/api/v1/session", json={"password": OWNER_PASSWORD}).status_code == 429
    accounts(app).login_tries = Accounts(accounts(app).state_dir).login_tries
    with client(app) as person:
        person.headers["x-csrftoken"] = csrf(person)
        before = person.cookies.get("papo_session")
        answer = person.post("/api/v1/session?next=//evil.example/x", json={"password": OWNER_PASSWORD})
        assert answer.status_code == 200 and answer.json()["next"] == "/"
        assert person.cookies.get("papo_session") not in (None, before)
        assert person.get("/schema/openapi.json").status_code == 200
        assert person.delete("/api/v1/session").status_code == 204
        assert person.get("/schema/openapi.json").status_code == 401


def test_a_session_id_chosen_by_someone_else_is_replaced_at_login(app: Litestar) -> None:
    with client(app) as anyone:
        claim(anyone)
    with client(app) as person:
        person.cookies.set("papo_session", "a" * 64, domain="127.0.0.1")
        person.headers["x-csrftoken"] = csrf(person)
        assert person.post("/api/v1/session", json={"password": OWNER_PASSWORD}).status_code == 200
        assert person.cookies.get("papo_session") != "a" * 64
    with client(app) as attacker:
        attacker.cookies.set("papo_session", "a" * 64, domain="127.0.0.1")
        assert attacker.get("/api/v1/conversations").status_code == 401


def test_session_and_csrf_cookie_flags(app: Litestar) -> None:
    with client(app) as anyone:
        code = accounts(app).codes.issue().code
        first = anyone.get("/configurar")
        assert "samesite=strict" in first.headers["set-cookie"].lower()  # csrftoken
        answer = anyone.post("/api/v1/setup", json={"code": code, "password": OWNER_PASSWORD},
                             headers={"x-csrftoken": csrf(anyone)})  # fmt: skip
        cookie = answer.headers["set-cookie"].lower()
        assert cookie.startswith("papo_session=") and "httponly" in cookie and "samesite=strict" in cookie
        assert "secure" not in cookie  # plain HTTP on the home network: Secure would drop the cookie
        assert "max-age=43200" in cookie


def test_a_reset_owner_ends_every_session(app: Litestar) -> None:
    with owner_client(app) as owner:
        assert owner.get("/schema/openapi.json").status_code == 200
        accounts(app).owners.remove()
        assert owner.get("/schema/openapi.json").status_code == 403
        claim(owner, "uma-nova-senha-bem-longa")
        assert owner.get("/schema/openapi.json").status_code == 200


# --- password re-entry ---------------------------------------------------------------------------------------------


def test_password_reentry_window(app: Litestar) -> None:
    from litestar import post as post_route

    from papo.web.security import current_owner, recent_password_required

    seen: list[str] = []

    @post_route("/api/v1/test/danger", guards=[recent_password_required], status_code=200, sync_to_thread=False)
    def danger(request: Request[Any, Any, Any]) -> dict[str, bool]:
        seen.append(current_owner(request))
        return {"done": True}

    app.register(danger)
    with owner_client(app) as owner:
        assert owner.post("/api/v1/test/danger").status_code == 200  # just logged in: the password is recent
        session_store_age = time.time()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(time, "time", lambda: session_store_age + 301)
            refused = owner.post("/api/v1/test/danger")
            assert refused.status_code == 403 and refused.json()["reauth"] is True
            assert owner.post("/api/v1/session/confirm", json={"password": "errada-errada"}).status_code == 401
            assert owner.post("/api/v1/session/confirm", json={"password": OWNER_PASSWORD}).status_code == 200
            assert owner.post("/api/v1/test/danger").status_code == 200
    assert seen == ["Ana", "Ana"]


# --- CSRF, cross-site, headers, schema ----------------------------------------------------------------------------


def test_a_cross_site_form_post_is_refused(app: Litestar) -> None:
    with owner_client(app) as owner:
        forged = {"origin": "http://evil.example", "content-type": "application/x-www-form-urlencoded"}
        answer = owner.post("/api/v1/session/confirm", content=f"password={OWNER_PASSWORD}",
                            headers={**forged, "x-csrftoken": ""})  # fmt: skip
        assert answer.status_code == 403
        fetch_site = owner.post("/api/v1/session/confirm", json={"password": OWNER_PASSWORD},
                                headers={"sec-fetch-site": "cross-site"})  # fmt: skip
        assert fetch_site.status_code == 403
        same = owner.post("/api/v1/session/confirm", json={"password": OWNER_PASSWORD},
                          headers={"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"})  # fmt: skip
        assert same.status_code == 200


def test_an_unsafe_request_without_the_csrf_token_is_refused(app: Litestar) -> None:
    with owner_client(app) as owner:
        del owner.headers["x-csrftoken"]
        assert owner.post("/api/v1/session/confirm", json={"password": OWNER_PASSWORD}).status_code == 403
        assert owner.delete("/api/v1/session").status_code == 403
        owner.headers["x-csrftoken"] = "0" * 128
        assert owner.post("/api/v1/session/confirm", json={"password": OWNER_PASSWORD}).status_code == 403


def test_security_headers_on_every_response_and_no_cors(app: Litestar) -> None:
    with client(app) as anyone:
        for answer in [anyone.get("/health"), anyone.get("/configurar"), anyone.get("/"),
                       anyone.get("/static/app.css"), anyone.post("/api/v1/setup", json={})]:  # fmt: skip
            headers = answer.headers
            assert headers["content-security-policy"].startswith("default-src 'self'; frame-ancestors 'none'")
            assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] == "no-referrer"
            assert not any(h.startswith("access-control-") for h in headers)
        preflight = anyone.options("/api/v1/session", headers={"origin": "http://evil.example",
                                                                "access-control-request-method": "POST"})  # fmt: skip
        assert not any(h.startswith("access-control-") for h in preflight.headers)


def test_static_files_are_cached_long_and_compressed(app: Litestar) -> None:
    with client(app) as anyone:
        answer = anyone.get("/static/htmx.min.js", headers={"accept-encoding": "gzip"})
        assert answer.status_code == 200 and answer.headers["content-encoding"] == "gzip"
        assert "max-age=31536000" in answer.headers["cache-control"]
        assert "no-store" in anyone.get("/configurar").headers["cache-control"]


def test_the_schema_is_for_the_owner_only_and_no_schema_ui_is_served(app: Litestar) -> None:
    with client(app) as anyone:
        assert anyone.get("/schema/openapi.json").status_code == 403  # not claimed yet
    with owner_client(app) as owner:
        schema = owner.get("/schema/openapi.json")
        assert schema.status_code == 200 and "/api/v1/session" in schema.json()["paths"]
        for ui in ["/schema/swagger", "/schema/redoc", "/schema/elements", "/schema/rapidoc", "/schema/openapi.yaml"]:
            assert owner.get(ui).status_code == 404, ui
        assert owner.get("/schema").headers["content-type"].startswith("application/vnd.oai.openapi+json")


class RecordingOutput:
    """The companion's speech output, recording what it is asked to say."""

    has_speaker = True

    def __init__(self) -> None:
        self.said: list[str] = []
        self.done = threading.Event()

    def say(self, text: str) -> float:
        self.said.append(text)
        if text == "Repetindo":
            self.done.set()
        return 0.1


def test_opening_the_setup_page_says_the_code_digit_by_digit(app: Litestar) -> None:
    output = RecordingOutput()
    app.state["voice"].conversation = SimpleNamespace(companion=SimpleNamespace(output=output))
    with client(app) as anyone:
        page = anyone.get("/configurar")
        assert page.status_code == 200 and "está falando um código" in page.text
        assert output.done.wait(5)
        code = accounts(app).codes.known()
        assert code is not None
        names = ["zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"]
        digits = [w for w in output.said if w in names]
        assert "".join(str(names.index(w)) for w in digits) == code.code * 2  # said twice, one digit at a time
        assert all(code.code not in w for w in output.said)
        assert anyone.post("/api/v1/setup/code", headers={"x-csrftoken": csrf(anyone)}).status_code == 429


def test_without_a_speaker_the_page_points_to_the_console(app: Litestar) -> None:
    with client(app) as anyone:
        assert "papo setup-code" in anyone.get("/configurar").text
        accounts(app).codes._issued = None  # as if `papo setup-code` had issued the current code
        assert "mostrado pelo comando papo setup-code" in anyone.get("/configurar").text


def test_pages_are_in_pt_br_unless_english_is_chosen(app: Litestar) -> None:
    with client(app) as anyone:
        page = anyone.get("/configurar")
        assert '<html lang="pt-BR">' in page.text and "Configurar o Papo" in page.text
        english = anyone.get("/configurar?lang=en")
        assert '<html lang="en">' in english.text and "Set up Papo" in english.text
        assert "lang=en" in english.headers["set-cookie"]
        assert "Set up Papo" in anyone.get("/configurar").text  # the choice is kept
        assert "Configurar o Papo" in anyone.get("/configurar?lang=pt").text


def test_the_settings_language_is_the_default(tmp_path: Path) -> None:
    with client(web_app(tmp_path, conversation={"enabled": False, "language": "en"})) as anyone:
        assert "Set up Papo" in anyone.get("/configurar").text


def test_extra_names_can_be_allowed_and_404s_carry_the_headers(tmp_path: Path) -> None:
    with client(web_app(tmp_path, server={"mdns": False, "names": ["papo.casa"]})) as anyone:
        assert anyone.get("/health", headers={"host": "papo.casa:8080"}).status_code == 200
        missing = anyone.get("/static/nothing.js")
        assert missing.status_code == 404 and missing.headers["x-frame-options"] == "DENY"


def test_a_visitor_without_a_session_gets_no_session_cookie_nor_a_stored_session(app: Litestar) -> None:
    with client(app) as anyone:
        for _ in range(3):
            answer = anyone.get("/configurar")
            assert "papo_session" not in answer.headers.get("set-cookie", "")
        store = app.stores.get("sessions")
        assert not store._store  # type: ignore[attr-defined]  # MemoryStore: nothing kept for anonymous visitors
        claim(anyone)
        assert len(store._store) == 1  # type: ignore[attr-defined]
        assert anyone.delete("/api/v1/session", headers={"x-csrftoken": csrf(anyone)}).status_code == 204
        assert not store._store  # type: ignore[attr-defined]


def test_the_first_load_of_the_status_page_stays_under_60_kb_compressed(app: Litestar) -> None:
    import re

    with owner_client(app) as owner:
        page = owner.get("/", headers={"accept-encoding": "gzip"})
        assert page.status_code == 200
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        assert {"/static/app.css", "/static/htmx.min.js", "/static/htmx-sse.js", "/static/app.js"} <= {
            a.split("?")[0] for a in assets
        }
        sizes = [int(page.headers.get("content-length", len(page.content)))]
        for asset in assets:
            answer = owner.get(asset, headers={"accept-encoding": "gzip"})
            assert answer.status_code == 200, asset
            assert answer.headers.get("content-encoding") == "gzip" or len(answer.content) < 512, asset
            sizes.append(int(answer.headers["content-length"]))
        assert sum(sizes) <= 60_000, sizes


@pytest.mark.parametrize("target", ["//evil.example/x", "/\t/evil.example", "/\\evil.example", "https://evil.example",
                                    "/\n/evil.example", "javascript:alert(1)"])  # fmt: skip
def test_login_never_sends_the_person_elsewhere(target: str) -> None:
    from papo.web.security.flows import safe_next as _safe_next

    assert _safe_next(target) == "/"
    assert _safe_next("/conversas?q=bolo&page=2") == "/conversas?q=bolo&page=2"


def test_an_unknown_host_cannot_open_a_websocket(app: Litestar) -> None:
    from litestar import WebSocket, websocket
    from litestar.exceptions import WebSocketDisconnect

    @websocket("/api/v1/test/socket")
    async def socket(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        await socket.send_text("hello")
        await socket.close()

    app.register(socket)
    with owner_client(app) as owner:
        with owner.websocket_connect("/api/v1/test/socket", headers={"host": "127.0.0.1:8080"}) as allowed:
            assert allowed.receive_text() == "hello"
        evil = owner.websocket_connect("/api/v1/test/socket", headers=EVIL)
        with pytest.raises(WebSocketDisconnect) as refused, evil as connection:
            connection.receive_text()
        assert refused.value.code == 1008
        elsewhere = owner.websocket_connect("/api/v1/test/socket", headers={"origin": "http://evil.example"})
        with pytest.raises(WebSocketDisconnect) as hijacked, elsewhere as connection:
            connection.receive_text()
        assert hijacked.value.code == 1008


def test_changing_the_password_needs_it_recent_and_ends_other_sessions(app: Litestar) -> None:
    new = "outra-senha-bem-comprida"
    with owner_client(app) as owner:
        mine = owner.cookies["papo_session"]
        owner.cookies.delete("papo_session")
        assert owner.post("/api/v1/session", json={"password": OWNER_PASSWORD}).status_code == 200
        other = owner.cookies["papo_session"]  # a second device logged in
        owner.cookies.set("papo_session", mine, domain="127.0.0.1")
        assert owner.get("/schema/openapi.json").status_code == 200 and mine != other
        assert owner.get("/conta").status_code == 200
        assert owner.post("/api/v1/owner/password", json={"password": "123mudar"}).json()["field"] == "password"
        later = time.time() + 301
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(time, "time", lambda: later)
            refused = owner.post("/api/v1/owner/password", json={"password": new})
            assert refused.status_code == 403 and refused.json()["reauth"] is True
        assert owner.post("/api/v1/owner/password", json={"password": new}).status_code == 200
        assert owner.get("/schema/openapi.json").status_code == 200  # this session goes on
        owner.cookies.set("papo_session", other, domain="127.0.0.1")
        assert owner.get("/schema/openapi.json").status_code == 401  # the others end
        assert owner.post("/api/v1/session", json={"password": OWNER_PASSWORD}).status_code == 401
        assert owner.post("/api/v1/session", json={"password": new}).status_code == 200


def test_setup_login_and_logout_work_without_javascript(app: Litestar) -> None:
    with client(app) as browser:
        token = csrf(browser)
        code = accounts(app).codes.issue().code
        form = {"_csrf_token": token, "code": "000000000", "password": OWNER_PASSWORD, "name": "Ana"}
        wrong = browser.post("/configurar", data=form)
        assert wrong.status_code == 400 and "Código errado ou vencido" in wrong.text and 'value="Ana"' in wrong.text
        assert browser.post("/configurar", data={**form, "code": code, "_csrf_token": ""}).status_code == 403
        claimed = browser.post("/configurar", data={**form, "code": code}, follow_redirects=False)
        assert claimed.status_code == 303 and claimed.headers["location"] == "/"
        out = browser.post("/sair", data={"_csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/entrar"
        assert browser.get("/schema/openapi.json").status_code == 401
        login = {"_csrf_token": token, "password": "nao-e-esta-senha", "next": "/conversas"}
        refused = browser.post("/entrar", data=login)
        assert refused.status_code == 401 and "Senha errada." in refused.text
        done = browser.post("/entrar", data={**login, "password": OWNER_PASSWORD}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/conversas"
        assert browser.get("/schema/openapi.json").status_code == 200


def test_a_form_post_from_the_page_itself_passes_the_origin_check() -> None:
    from litestar.datastructures import Headers

    from papo.web.security.origin import cross_site

    page_form = Headers({"origin": "null", "sec-fetch-site": "same-origin", "host": "papo-ab12.local:8080"})
    assert not cross_site("POST", page_form)  # Referrer-Policy: no-referrer makes a form's Origin "null"
    assert cross_site("POST", Headers({"origin": "null", "sec-fetch-site": "cross-site", "host": "h"}))
    assert cross_site("POST", Headers({"origin": "http://evil.example", "host": "papo-ab12.local:8080"}))
    assert not cross_site("POST", Headers({"origin": "http://papo-ab12.local:8080", "host": "papo-ab12.local:8080"}))
    assert cross_site("DELETE", Headers({"sec-fetch-site": "same-site", "host": "h"}))
    assert not cross_site("GET", Headers({"sec-fetch-site": "cross-site", "host": "h"}))
