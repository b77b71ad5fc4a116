"""What a caregiver is told: the pt-BR text (e-mail, ntfy) and the webhook's JSON, from one Notice."""

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
    return f"Papo: {KINDS_PT.get(notice.kind, 'um alerta')} em {notice.device_id}"


def text(notice: Notice) -> str:
    """The pt-BR message: what was heard, when, which device, and the acknowledgement link."""
    if notice.test:
        return (
            f"Olá, {notice.caregiver}.\n\nEste é um teste dos avisos do Papo. Se você recebeu esta mensagem, "
            "os alertas de bem-estar chegarão a você por este canal.\n"
        )
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


def payload(notice: Notice) -> dict[str, Any]:
    """The webhook's JSON body (README: "Caregiver alerts")."""
    return {
        "type": "papo.alert.test" if notice.test else "papo.alert",
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
        "text": text(notice),
    }
