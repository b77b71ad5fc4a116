"""`papo export`: everything the device keeps about the person, as one documented, versioned JSON document."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from papo import __version__
from papo.settings import Settings
from papo.store import Conversation, ErasureRequest, Memory, Reminder, Store, Turn, WellbeingEvent, utc_now
from papo.store.records import UtcTime

SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"
_SECRET_KEYS = ("password", "password_file", "secret", "token", "api_key", "api_key_env", "tls_key")


class PersonExport(BaseModel):
    """Everything a Papo device keeps about the person, as written by `papo export`. Times are in UTC."""

    model_config = ConfigDict(frozen=True, title="Papo export", json_schema_extra={"$schema": SCHEMA_URL})

    schema_version: Literal[1] = Field(
        default=1, description="The version of this format; a new version may add or change fields"
    )
    exported_at: UtcTime
    device_id: str = Field(description="The device that wrote the export")
    papo_version: str = Field(description="The papo software version that wrote the export")
    settings: dict[str, Any] = Field(description="The settings in effect, by section (secrets are never included)")
    conversations: list[Conversation] = Field(description="Runs of turns without a long silence, oldest first")
    turns: list[Turn] = Field(description="What the person said to Papo and what Papo answered, oldest first")
    memories: list[Memory] = Field(description="What Papo remembers about the person, oldest first")
    reminders: list[Reminder] = Field(description="Reminders the person asked for (pending and already said)")
    wellbeing_events: list[WellbeingEvent] = Field(description="Signs of distress or loneliness noticed, newest first")
    erasure_requests: list[ErasureRequest] = Field(description="Erasures asked for and how far each got, newest first")
    waiting_for_cloud: int = Field(ge=0, description="Changes queued for the family's cloud and not sent yet")


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "(hidden)" if key in _SECRET_KEYS and item is not None else _without_secrets(item)
            for key, item in value.items()
        }
    return value


def build_export(store: Store, settings: Settings) -> PersonExport:
    """Collect everything the store keeps, with the settings in effect."""
    return PersonExport(
        exported_at=utc_now(),
        device_id=settings.device_id,
        papo_version=__version__,
        settings=_without_secrets(settings.model_dump(mode="json")),
        conversations=store.turns.conversations(),
        turns=store.turns.all(),
        memories=store.memories.all(),
        reminders=store.reminders.all(include_done=True),
        wellbeing_events=store.wellbeing.all(),
        erasure_requests=store.erasures.requests(),
        waiting_for_cloud=store.outbox.depth(),
    )


def write_export(export: PersonExport, path: Path) -> None:
    """Write `export` to `path` as JSON readable by its owner only (0600), replacing the file whole."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)  # also when a leftover partial file had other modes
            out.write(export.model_dump_json(indent=2))
            out.write("\n")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def export_schema() -> str:
    """The JSON schema of the export (published as docs/export-schema.json)."""
    schema = PersonExport.model_json_schema(mode="serialization")
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
