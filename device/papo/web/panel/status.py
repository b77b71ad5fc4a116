"""Início's read-out: cloud link, what Papo is doing, the microphone level, disk, models, the verdict in plain words.

Built from the daemon's parts without touching the voice pipeline: attribute reads and one statvfs call.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from papo.fleet import FleetLink
from papo.service import Activity, PipelineState, VoiceService
from papo.store import Store
from papo.web.health import judge
from papo.web.panel.fields import N_

# Below this share of the disk free, Papo warns before the store fills it.
LOW_DISK_RATIO = 0.05


class Problem(BaseModel):
    """One thing wrong, in plain words (pt-BR msgids), with what to do about it."""

    code: str
    message: str
    action: str


class Cloud(BaseModel):
    """The link to the family's cloud (the fleet broker)."""

    enabled: bool
    connected: bool
    last_sync_at: datetime | None = None


class Disk(BaseModel):
    """Space on the disk holding the state directory."""

    total_bytes: int
    used_bytes: int
    free_bytes: int
    used_pct: float


class Models(BaseModel):
    """The speech models: loading, ready (with the ones in use) or failed."""

    state: Literal["loading", "ready", "failed"]
    in_use: dict[str, str]


class Status(BaseModel):
    """Everything Início shows."""

    verdict: Literal["ok", "degraded", "failed"]
    reasons: list[str]
    problems: list[Problem]
    activity: Activity
    microphone: str | None
    mic_level_dbfs: float | None
    utterances: int
    cloud: Cloud
    disk: Disk
    models: Models


_PROBLEMS: dict[str, tuple[str, str]] = {
    "starting": (N_("Papo está começando"), N_("Aguarde um minuto; esta página se atualiza sozinha.")),
    "no mic": (N_("Nenhum microfone encontrado"), N_("Verifique o cabo USB do microfone.")),
    "no speaker": (N_("Sem alto-falante"), N_("Verifique se o alto-falante está ligado e conectado.")),
    "companion off": (N_("Papo não consegue responder"), N_("Reinicie Papo em Ajustes; se continuar, peça ajuda.")),
    "LLM down": (N_("O modelo de linguagem não responde"), N_("Verifique o endereço do modelo em Ajustes.")),
    "disk full": (N_("Disco cheio"), N_("Apague conversas antigas em Conversas.")),
    "disk low": (N_("Pouco espaço em disco"), N_("Apague conversas antigas em Conversas.")),
    "store quarantined": (
        N_("O arquivo de conversas estava danificado e foi separado"),
        N_("Papo começou um novo; chame o suporte para recuperar o antigo."),
    ),
    "broker unreachable": (N_("Sem conexão com a nuvem"), N_("Verifique a internet e o servidor em Ajustes.")),
    "pipeline failed": (N_("A escuta parou com um erro"), N_("Reinicie Papo em Ajustes; veja também Modelos.")),
}


def problem(reason: str) -> Problem:
    """The plain-words problem for one /health reason (a failed pipeline's reason carries its detail)."""
    code = "pipeline failed" if reason.startswith("pipeline failed") else reason
    message, action = _PROBLEMS.get(code, (N_("Algo não vai bem"), N_("Veja o registro do serviço.")))
    return Problem(code=code, message=message, action=action)


# Disk space changes slowly: read it at most this often, so the live status is not re-sent for every byte written.
DISK_EVERY_S = 10.0
_disks: dict[Path, tuple[float, Disk]] = {}


def disk(state_dir: Path) -> Disk:
    """Free and used space of the disk holding `state_dir` (read again after DISK_EVERY_S)."""
    now = time.monotonic()
    kept = _disks.get(state_dir)
    if kept is not None and now - kept[0] < DISK_EVERY_S:
        return kept[1]
    usage = shutil.disk_usage(state_dir)
    used_pct = round(100 * usage.used / usage.total, 1) if usage.total else 0.0
    read = Disk(total_bytes=usage.total, used_bytes=usage.used, free_bytes=usage.free, used_pct=used_pct)
    _disks[state_dir] = (now, read)
    return read


def _cloud(link: FleetLink | None) -> Cloud:
    if link is None:
        return Cloud(enabled=False, connected=False)
    status = link.agent.status
    last = None if status.last_sync_at is None else datetime.fromtimestamp(status.last_sync_at, UTC)
    return Cloud(enabled=True, connected=status.connected, last_sync_at=last)


def _models(voice: VoiceService) -> Models:
    state = voice.status.state
    if state is PipelineState.FAILED and not voice.status.models:
        return Models(state="failed", in_use={})
    if state in (PipelineState.STARTING, PipelineState.LOADING_MODELS):
        return Models(state="loading", in_use={})
    return Models(state="ready", in_use=dict(voice.status.models))


def read_status(
    voice: VoiceService, store: Store | None, link: FleetLink | None, wanted: bool, state_dir: Path
) -> Status:
    """The status now: /health's verdict on the same parts, in plain words, plus what the page shows live."""
    verdict = judge(voice, store, link, wanted)
    space = disk(state_dir)
    reasons = list(verdict.reasons)
    if "disk full" not in reasons and space.total_bytes and space.free_bytes < LOW_DISK_RATIO * space.total_bytes:
        reasons.append("disk low")
    listening = voice.status.state is PipelineState.LISTENING
    return Status(
        verdict=verdict.status.value, reasons=verdict.reasons, problems=[problem(r) for r in reasons],
        activity=voice.activity, microphone=voice.status.device if listening else None,
        mic_level_dbfs=voice.level.dbfs if listening else None, utterances=voice.status.utterances,
        cloud=_cloud(link), disk=space, models=_models(voice),
    )  # fmt: skip
