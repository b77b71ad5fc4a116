"""What a caregiver is told: the pt-BR text (e-mail, ntfy) and the webhook's JSON, from one Notice.

A Notice is the alert itself, a test, or the "ok" update («estou bem»: `fine_at` set) sent to a caregiver the alert
already reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

KINDS_PT = {
    "emergency": "um pedido de socorro",
    "fall": "uma queda",
    "unwell": "um mal-estar",
    "distress": "sinais de aflição",
    "loneliness": "sinais de solidão",
}
SEVERITY_PT = {"low": "baixa", "medium": "média", "high": "alta", "critical": "crítica"}


@dataclass(frozen=True)
class Notice:
    """One alert as one caregiver receives it. `heard` is the matched phrase only (None once erased)."""

    alert_id: int
    tenant: str
    device_id: str
    msg_id: str
    kind: str
    severity: str
    heard: str | None
    at: datetime
    timezone: str
    caregiver: str
    ack_url: str
    step: int
    test: bool = False
    fine_at: datetime | None = None  # set: the "ok" update (the person said «estou bem» at this time)

    @property
    def update(self) -> str:
        """What this notice is: `alert`, `test` or `ok`."""
        return "test" if self.test else "ok" if self.fine_at is not None else "alert"


def local_time(at: datetime, timezone: str) -> str:
    """`at` in the tenant's time zone (e.g. "30/11/2026 às 09:41 (America/Sao_Paulo)"); UTC for an unknown zone."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return f"{at.astimezone(zone):%d/%m/%Y às %H:%M} ({zone.key})"


def subject(notice: Notice) -> str:
    """The e-mail subject and ntfy title."""
    if notice.test:
        return "Papo: teste de aviso"
    if notice.fine_at is not None:
        return f"Papo: a pessoa em {notice.device_id} disse que está bem"
    return f"Papo: {KINDS_PT.get(notice.kind, 'um alerta')} em {notice.device_id}"


def text(notice: Notice) -> str:
    """The pt-BR message: what was heard, when, which device, and the acknowledgement link."""
    if notice.test:
        return (
            f"Olá, {notice.caregiver}.\n\nEste é um teste dos avisos do Papo. Se você recebeu esta mensagem, "
            "os alertas de bem-estar chegarão a você por este canal.\n"
        )
    if notice.fine_at is not None:
        return ok_text(notice, notice.fine_at)
    heard = f'"{notice.heard}"' if notice.heard else "(a frase foi apagada a pedido da pessoa)"
    return (
        f"Olá, {notice.caregiver}.\n\n"
        f"O Papo ({notice.device_id}) percebeu {KINDS_PT.get(notice.kind, 'um alerta')} "
        f"(gravidade {SEVERITY_PT.get(notice.severity, notice.severity)}).\n"
        f"O que ouviu: {heard}\n"
        f"Quando: {local_time(notice.at, notice.timezone)}\n\n"
        f"Por favor, entre em contato. Para avisar que você viu este alerta, abra:\n{notice.ack_url}\n\n"
        "Se ninguém confirmar, o Papo avisa a próxima pessoa da lista.\n"
    )


def ok_text(notice: Notice, fine_at: datetime) -> str:
    """The pt-BR "ok" update: the person told the device they are fine, after which alert, and the link."""
    return (
        f"Olá, {notice.caregiver}.\n\n"
        f"A pessoa disse ao Papo ({notice.device_id}) que está bem: {local_time(fine_at, notice.timezone)}.\n"
        f"É uma atualização do aviso de {KINDS_PT.get(notice.kind, 'um alerta')} de "
        f"{local_time(notice.at, notice.timezone)}.\n\n"
        "O Papo não avisa mais ninguém sobre este alerta. Se puder, fale com ela para confirmar.\n"
        f"Se ainda não confirmou que viu o aviso, abra:\n{notice.ack_url}\n"
    )


_TYPES = {"alert": "papo.alert", "test": "papo.alert.test", "ok": "papo.alert.ok"}


def payload(notice: Notice) -> dict[str, Any]:
    """The webhook's JSON body (README: "Caregiver alerts"); `update` says which: alert, test or ok."""
    return {
        "type": _TYPES[notice.update],
        "update": notice.update,
        "alert_id": str(notice.alert_id),
        "tenant": notice.tenant,
        "device_id": notice.device_id,
        "msg_id": notice.msg_id,
        "kind": notice.kind,
        "severity": notice.severity,
        "heard": notice.heard,
        "at": notice.at.isoformat(),
        "at_local": local_time(notice.at, notice.timezone),
        "caregiver": notice.caregiver,
        "escalation_step": notice.step,
        "ack_url": notice.ack_url,
        "said_fine_at": None if notice.fine_at is None else notice.fine_at.isoformat(),
        "text": text(notice),
    }
