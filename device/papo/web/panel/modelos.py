"""Modelos: the models on this device (size, licence, languages, state, sha256 verification) and verifying again."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.datastructures import State
from pydantic import BaseModel

from papo.models.inventory import ModelRow, ModelStatus, inventory
from papo.web.context import Ctx, WebContext
from papo.web.panel.verify import JobState, VerifyJob
from papo.web.render import page
from papo.web.security import owner_required


class ModelInfo(BaseModel):
    """One model of the manifest as this device has it."""

    name: str
    kind: str
    description: str
    size_bytes: int
    license: str
    languages: list[str]
    status: ModelStatus
    in_use: bool
    verified: Literal["ok", "failed", "not checked"]
    problems: list[str]
    verified_at: datetime | None


class Verification(BaseModel):
    """The verification run: idle, running (files checked of total) or done."""

    state: JobState
    checked_files: int
    total_files: int


class ModelsView(BaseModel):
    """Every model and the verification run."""

    models: list[ModelInfo]
    verification: Verification


def verify_job(state: State) -> VerifyJob:
    """The app's one verification run (made on first use)."""
    job = state.get("panel_verify")
    if not isinstance(job, VerifyJob):
        job = VerifyJob()
        state["panel_verify"] = job
    return job


def _info(row: ModelRow, job: VerifyJob) -> ModelInfo:
    entry, result = row.entry, job.results.get(row.entry.name)
    verified: Literal["ok", "failed", "not checked"] = (
        "not checked" if result is None else "ok" if result.ok else "failed"
    )
    return ModelInfo(
        name=entry.name, kind=entry.kind, description=entry.description, size_bytes=entry.size,
        license=entry.license, languages=entry.languages, status=row.status,
        in_use=row.in_use, verified=verified, problems=[] if result is None else result.problems,
        verified_at=None if result is None else result.at,
    )  # fmt: skip


def models_view(ctx: WebContext, state: State) -> ModelsView:
    """The models and the verification run now."""
    job = verify_job(state)
    progress = Verification(state=job.state, checked_files=job.checked_files, total_files=job.total_files)
    return ModelsView(models=[_info(row, job) for row in inventory(ctx.settings)], verification=progress)


def start_verification(ctx: WebContext, state: State) -> ModelsView:
    """Start re-hashing every prepared model in a thread (if no run is going); the view right after."""
    entries = [row.entry for row in inventory(ctx.settings) if row.prepared]
    verify_job(state).start(entries, ctx.settings.models_dir)
    return models_view(ctx, state)


@get("/api/v1/models", guards=[owner_required], sync_to_thread=True)
def list_models(ctx: Ctx, state: State) -> ModelsView:
    """The models: size, licence, languages, state here, last verification; and the verification run."""
    return models_view(ctx, state)


@post("/api/v1/models/verify", guards=[owner_required], status_code=202, sync_to_thread=True)
def verify_models(ctx: Ctx, state: State) -> ModelsView:
    """Verify the prepared models again (sha256, in the background); poll GET /api/v1/models for the result."""
    return start_verification(ctx, state)


def _page(request: Request[Any, Any, Any], view: ModelsView) -> Response[str]:
    name = "_panel_modelos_list.html.j2" if request.headers.get("hx-request") else "modelos.html.j2"
    return page(request, name, view=view)


@get("/modelos", guards=[owner_required], include_in_schema=False, sync_to_thread=True)
def modelos_page(request: Request[Any, Any, Any], ctx: Ctx, state: State) -> Response[str]:
    """The models page (while a verification runs, htmx polls it)."""
    return _page(request, models_view(ctx, state))


@post("/modelos/verificar", guards=[owner_required], include_in_schema=False, status_code=200, sync_to_thread=True)
def modelos_verify(request: Request[Any, Any, Any], ctx: Ctx, state: State) -> Response[str]:
    """'Verificar de novo' on the page."""
    return _page(request, start_verification(ctx, state))


HANDLERS = [list_models, verify_models, modelos_page, modelos_verify]
