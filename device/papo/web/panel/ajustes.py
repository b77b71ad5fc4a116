"""Ajustes: the settings page and API, the change log, the voice and sound checks, and the restart.

Changes go through `editing.change` (validated whole, kept in the page's file, live keys applied at once through
`VoiceService.apply_settings`, the same path as the fleet's). A restart (`POST /api/v1/restart`) stops the daemon
cleanly and exits for systemd to start it again (`papo.system.restart`): no setting is restarted in-process.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Request, Response, get, post, put
from litestar.background_tasks import BackgroundTask
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, URLEncodedBody
from pydantic import BaseModel, Field

from papo.errors import AudioInputError, ConfigError, PapoError
from papo.settings import environment_keys, read_local_settings
from papo.system import restart
from papo.web.context import Ctx, WebContext
from papo.web.panel import audio_checks, changelog, editing
from papo.web.panel.changelog import ChangeEntry
from papo.web.panel.editing import Problem, SettingsRefusedError
from papo.web.panel.fields import EDITABLE, FORM, N_, groups
from papo.web.render import page, render
from papo.web.security import current_owner, owner_required

HTTP_UNPROCESSABLE, HTTP_CONFLICT = 422, 409


# a setting's value as JSON (a number, text, a list...): `Any`, so the schema says "any JSON value" (pydantic's
# JsonValue is a oneOf in which an integer also matches "number", so every integer value broke the schema)
SettingValue = Any


class SettingsView(BaseModel):
    """The settings the page may change, their values now, and what waits for a restart."""

    values: dict[str, SettingValue]
    restart_needed: list[str]
    locked: list[str] = Field(description="Keys set by PAPO_* variables: they cannot be changed here")
    held_locally: list[str] = Field(description="Keys changed on this page: they win over the fleet's")


class SettingsChange(BaseModel):
    """New values by dotted key (`tts.rate_wpm`); keys left out keep their value."""

    values: dict[str, SettingValue] = Field(min_length=1, max_length=len(EDITABLE) + 8)


class SettingsSaved(BaseModel):
    """A change kept: applied at once (`applied`), or waiting for a restart (`restart_needed`)."""

    applied: list[str]
    restart_needed: list[str]
    changes: list[ChangeEntry]
    values: dict[str, SettingValue]


class FieldError(BaseModel):
    """One refused value: its dotted key and why."""

    key: str
    message: str


class SettingsRefusal(BaseModel):
    """422: nothing was changed; `extra` names each refused field."""

    status_code: int
    detail: str
    extra: list[FieldError]


class VoiceTestRequest(BaseModel):
    """Say a sample with these (unsaved) voice settings, e.g. {"tts.voice": "pt-br"}; none: the saved ones."""

    values: dict[str, SettingValue] = Field(default_factory=dict, max_length=len(EDITABLE))
    text: str | None = Field(default=None, min_length=1, max_length=200)


class VoiceTestResult(BaseModel):
    """The sample said: its length, whether a speaker played it, the WAV's name in the state directory."""

    duration_s: float
    played: bool
    file: str


class DeviceTestRequest(BaseModel):
    """Record 3 s from this input and play them on this output (none: the settings' devices)."""

    input_device: str | None = Field(default=None, max_length=200)
    output_device: str | None = Field(default=None, max_length=200)


class DeviceTestResult(BaseModel):
    """What the 3 s recording showed."""

    input_device: str
    output_device: str | None
    rms_dbfs: float
    peak_dbfs: float
    verdict: str
    played: bool


class Detail(BaseModel):
    """An error: what happened and what to do."""

    status_code: int
    detail: str


class RestartResult(BaseModel):
    """The daemon is stopping and systemd will start it again."""

    restarting: bool
    detail: str


REFUSED = {HTTP_UNPROCESSABLE: ResponseSpec(data_container=SettingsRefusal, description="Refused; nothing changed")}
CONFLICT = {HTTP_CONFLICT: ResponseSpec(data_container=Detail, description="Not possible now; `detail` says why")}


def _refused(problems: list[Problem]) -> HTTPException:
    extra = [{"key": p.field, "message": p.reason} for p in problems]
    detail = "; ".join(f"{p.field}: {p.reason}" for p in problems)
    return HTTPException(status_code=HTTP_UNPROCESSABLE, detail=detail, extra=extra)


def _values(ctx: WebContext) -> tuple[dict[str, Any], list[str]]:
    """The editable keys' values now, and what waits for a restart."""
    try:
        now = editing.current(ctx.state_dir)
    except ConfigError:
        now = ctx.settings
    return {key: editing.value_of(now, key) for key in sorted(EDITABLE)}, editing.pending_restart(ctx.settings, now)


def settings_view(ctx: WebContext) -> SettingsView:
    """The settings as the page shows them."""
    values, pending = _values(ctx)
    held = sorted(
        f"{section}.{key}" for section, keys in read_local_settings(ctx.state_dir).items() if isinstance(keys, dict)
        for key in keys
    )  # fmt: skip
    return SettingsView(values=values, restart_needed=pending, locked=sorted(environment_keys() & EDITABLE),
                        held_locally=held)  # fmt: skip


def apply_change(request: Request[Any, Any, Any], ctx: WebContext, values: dict[str, Any]) -> SettingsSaved:
    """Change settings as the owner of this request; SettingsRefusedError if any value is refused."""
    outcome = editing.change(ctx.state_dir, ctx.settings, values, current_owner(request), ctx.voice.apply_settings)
    current, _ = _values(ctx)
    return SettingsSaved(
        applied=outcome.applied, restart_needed=outcome.restart_needed, changes=outcome.entries, values=current
    )


# Handlers sharing a path with another are async (their work in a thread): Litestar re-registers every handler of a
# path when one more is added, and wraps a sync_to_thread handler a second time, breaking it.


@get("/api/v1/settings", guards=[owner_required])
async def get_settings(ctx: Ctx) -> SettingsView:
    """The settings the page may change, their values, what waits for a restart, what is locked or held."""
    return await to_thread.run_sync(settings_view, ctx)


@put("/api/v1/settings", guards=[owner_required], responses=REFUSED)
async def put_settings(request: Request[Any, Any, Any], ctx: Ctx, data: JSONBody[SettingsChange]) -> SettingsSaved:
    """Change settings: validated whole (422 naming each bad field, nothing changed), live keys applied at once."""
    try:
        return await to_thread.run_sync(apply_change, request, ctx, data.values)
    except SettingsRefusedError as exc:
        raise _refused(exc.problems) from None


@get("/api/v1/settings/changes", guards=[owner_required], sync_to_thread=True)
def get_changes(ctx: Ctx) -> list[ChangeEntry]:
    """The latest settings changes, newest first (who, when, key, old → new; secrets masked)."""
    return changelog.recent(ctx.state_dir)


def _voice_test(ctx: WebContext, values: dict[str, Any], text: str | None) -> VoiceTestResult:
    try:
        _, candidate, _ = editing.plan(ctx.state_dir, values)
    except SettingsRefusedError as exc:
        raise _refused(exc.problems) from None
    try:
        sample = audio_checks.voice_test(candidate, ctx.voice, text)
    except PapoError as exc:
        raise HTTPException(status_code=HTTP_CONFLICT, detail=str(exc)) from None
    return VoiceTestResult(duration_s=round(sample.duration_s, 2), played=sample.played, file=sample.path.name)


@post(
    "/api/v1/settings/voice-test",
    guards=[owner_required],
    responses=REFUSED | CONFLICT,
    status_code=200,
    sync_to_thread=True,
)
def voice_test(ctx: Ctx, data: JSONBody[VoiceTestRequest]) -> VoiceTestResult:
    """Say a sample with the chosen voice: a WAV in the state directory, played if there is a speaker."""
    return _voice_test(ctx, data.values, data.text)


def _device_test(ctx: WebContext, input_device: str | None, output_device: str | None) -> DeviceTestResult:
    audio = ctx.settings.audio
    try:
        check = audio_checks.device_test(input_device or audio.input_device, output_device or audio.output_device)
    except AudioInputError as exc:
        raise HTTPException(status_code=HTTP_CONFLICT, detail=str(exc)) from None
    return DeviceTestResult(
        input_device=check.input_device, output_device=check.output_device, rms_dbfs=round(check.rms_dbfs, 1),
        peak_dbfs=round(check.peak_dbfs, 1), verdict=check.verdict, played=check.output_device is not None,
    )  # fmt: skip


@post("/api/v1/settings/device-test", guards=[owner_required], responses=CONFLICT, status_code=200, sync_to_thread=True)
def device_test(ctx: Ctx, data: JSONBody[DeviceTestRequest]) -> DeviceTestResult:
    """Record 3 s and play them back; the level seen (409 with the reason when there is no microphone)."""
    return _device_test(ctx, data.input_device, data.output_device)


def _restart() -> Response[RestartResult]:
    if not restart.supervised():
        detail = N_("Papo não está rodando como serviço do sistema: reinicie-o à mão.")
        raise HTTPException(status_code=HTTP_CONFLICT, detail=detail)
    body = RestartResult(restarting=True, detail=N_("Papo está reiniciando; volte em meio minuto."))
    return Response(body, status_code=202, background=BackgroundTask(restart.request_restart))


@post("/api/v1/restart", guards=[owner_required], responses=CONFLICT, status_code=202, sync_to_thread=False)
def restart_daemon() -> Response[RestartResult]:
    """Stop cleanly and exit for systemd to start papo again (409 when no service manager would)."""
    return _restart()


# ---- the page (server-rendered; htmx swaps the form or a result, and every form also works without JS) ----


def _form_value(kind: str, raw: str | None) -> Any:
    """A submitted form value as the settings take it (toggles: present or not; lists: comma-separated)."""
    if kind == "toggle":
        return raw is not None
    text = (raw or "").strip()
    if kind == "list":
        return [word.strip() for word in text.split(",") if word.strip()]
    if kind == "number":
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


def _submitted(form: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The fields whose submitted value differs from the value now (so untouched keys stay the fleet's)."""
    changed = {}
    for field in FORM:
        if field.key not in form and field.kind != "toggle":  # not in the form sent (a toggle left off is absent)
            continue
        value = _form_value(field.kind, form.get(field.key))
        now = current.get(field.key)
        if value != now and not (value == "" and now is None):
            changed[field.key] = value
    return changed


def _page(request: Request[Any, Any, Any], ctx: WebContext, status_code: int = 200, **context: Any) -> Response[str]:
    view = settings_view(ctx)
    context = {"form_values": view.values, "errors": {}, "saved": None, "result": None, **context}
    name = "_panel_ajustes_form.html.j2" if request.headers.get("hx-request") else "ajustes.html.j2"
    return page(request, name, status_code=status_code, view=view, groups=groups(),
                changes=changelog.recent(ctx.state_dir, 20), **context)  # fmt: skip


@get("/ajustes", guards=[owner_required], include_in_schema=False)
async def ajustes_page(request: Request[Any, Any, Any], ctx: Ctx) -> Response[str]:
    """The settings page."""
    return await to_thread.run_sync(_page, request, ctx)


@post("/ajustes", guards=[owner_required], include_in_schema=False, status_code=200)
async def ajustes_submit(
    request: Request[Any, Any, Any],
    ctx: Ctx,
    data: URLEncodedBody[dict[str, str]],
) -> Response[str]:
    """The settings form: saved (with what applied and what needs a restart) or shown again with each error."""
    return await to_thread.run_sync(_submit, request, ctx, data)


def _submit(request: Request[Any, Any, Any], ctx: WebContext, data: dict[str, str]) -> Response[str]:
    current = settings_view(ctx).values
    values = _submitted(data, current)
    if not values:
        return _page(request, ctx, saved=SettingsSaved(applied=[], restart_needed=[], changes=[], values=current))
    try:
        saved = apply_change(request, ctx, values)
    except SettingsRefusedError as exc:
        errors = {p.field: p.reason for p in exc.problems}
        return _page(request, ctx, HTTP_UNPROCESSABLE, errors=errors, form_values={**current, **values})
    return _page(request, ctx, saved=saved)


def _result(request: Request[Any, Any, Any], ctx: WebContext, kind: str, **context: Any) -> Response[str]:
    """A check's result: the fragment for htmx, the whole page otherwise."""
    if request.headers.get("hx-request"):
        html = render(request, "_panel_result.html.j2", kind=kind, **{"reason": None, **context})
        return Response(html, media_type="text/html")
    return _page(request, ctx, result={"kind": kind, **context})


@post("/ajustes/testar-voz", guards=[owner_required], include_in_schema=False, status_code=200, sync_to_thread=True)
def ajustes_voice_test(request: Request[Any, Any, Any], ctx: Ctx) -> Response[str]:
    """'Testar voz' on the page: the saved voice says a sample."""
    try:
        sample = _voice_test(ctx, {}, None)
    except HTTPException as exc:
        return _result(request, ctx, "error", message=exc.detail)
    return _result(request, ctx, "voice", sample=sample)


@post("/ajustes/testar-som", guards=[owner_required], include_in_schema=False, status_code=200, sync_to_thread=True)
def ajustes_device_test(request: Request[Any, Any, Any], ctx: Ctx) -> Response[str]:
    """The 3-second record-and-play test on the page."""
    try:
        check = _device_test(ctx, None, None)
    except HTTPException as exc:
        message = N_("Nenhum microfone encontrado: verifique o cabo USB do microfone.")
        return _result(request, ctx, "error", message=message, reason=exc.detail)
    return _result(request, ctx, "device", check=check)


@post("/ajustes/reiniciar", guards=[owner_required], include_in_schema=False, status_code=200, sync_to_thread=True)
def ajustes_restart(request: Request[Any, Any, Any], ctx: Ctx) -> Response[str]:
    """'Reiniciar agora' on the page."""
    try:
        response = _restart()
    except HTTPException as exc:
        return _result(request, ctx, "error", message=exc.detail)
    shown = _result(request, ctx, "restart", message=response.content.detail)
    shown.background = response.background
    return shown


HANDLERS = [
    get_settings, put_settings, get_changes, voice_test, device_test, restart_daemon,
    ajustes_page, ajustes_submit, ajustes_voice_test, ajustes_device_test, ajustes_restart,
]  # fmt: skip
