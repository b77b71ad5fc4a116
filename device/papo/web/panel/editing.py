"""Changing settings from the page: the new Settings validated whole, kept in the page's file, live keys applied.

The new Settings are built from every source as it is now, with the page's file (`local-settings.json`) holding the
change: the one Settings model validates them, so an invalid value is refused naming its field and nothing is
written or applied. Keys a PAPO_* variable sets are refused (the variable would win). Keys that apply live
(`live_keys()`) are applied at once, like the fleet's; the others wait for a restart (`restart_needed`).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from papo.errors import ConfigError, PapoError
from papo.fleet import changed_keys
from papo.settings import (
    Settings,
    environment_keys,
    fleet_keys,
    live_keys,
    load_settings,
    read_local_settings,
    settings_with_local,
    write_local_settings,
)
from papo.system.logging import fields
from papo.web.panel import changelog
from papo.web.panel.changelog import ChangeEntry
from papo.web.panel.fields import EDITABLE, LINKED

log = logging.getLogger(__name__)

_LOCK = threading.Lock()  # one change at a time: the page's file is read, changed and replaced whole
SPOKEN: Final = "voz"  # who made a change asked for aloud, in the change log


@dataclass(frozen=True)
class Problem:
    """Why a value was refused: the dotted field and the reason."""

    field: str
    reason: str


class SettingsRefusedError(PapoError):
    """The change was refused as a whole; `problems` names each field."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Outcome:
    """A change kept: what changed, what was applied at once, and what now waits for a restart."""

    settings: Settings
    entries: list[ChangeEntry]
    applied: list[str]
    restart_needed: list[str]


def value_of(settings: Settings, key: str) -> Any:
    """The JSON value of a dotted key (`section.key`) in `settings`."""
    section, _, name = key.partition(".")
    dumped = settings.model_dump(mode="json")[section]
    return dumped[name] if name else dumped


def _optional(key: str) -> bool:
    """Whether the key may be unset (None): an empty text then means 'the default'."""
    section, _, name = key.partition(".")
    model = Settings.model_fields[section].annotation
    return isinstance(model, type) and issubclass(model, BaseModel) and model.model_fields[name].default is None


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    """The change with its linked keys added and empty texts of optional keys as None."""
    wanted = dict(values)
    for key, linked in LINKED.items():
        if key in values:
            wanted.update({other: values[key] for other in linked if other not in values})
    return {k: None if v == "" and _optional(k) else v for k, v in wanted.items()}


def current(state_dir: Path) -> Settings:
    """The settings every source gives now (the page's file included); ConfigError if they do not load."""
    return load_settings(state_dir=state_dir)


def pending_restart(started: Settings, now: Settings) -> list[str]:
    """The page's or the fleet's keys changed since the daemon started and not applied live: they wait for a restart.

    Other keys can differ only by how the daemon was started (arguments to `load_settings`), not by a change.
    """
    watched = EDITABLE | fleet_keys()
    return sorted(key for key in changed_keys(started, now) if key in watched and key not in live_keys())


# Plain pt-BR reasons for the validation errors a person can make on the page (pydantic's type → message).
_REASONS = {
    "less_than_equal": "no máximo {le}",
    "less_than": "menos que {lt}",
    "greater_than_equal": "no mínimo {ge}",
    "greater_than": "mais que {gt}",
    "int_parsing": "precisa ser um número inteiro",
    "int_from_float": "precisa ser um número inteiro",
    "float_parsing": "precisa ser um número",
    "bool_parsing": "precisa ser sim ou não",
    "bool_type": "precisa ser sim ou não",
    "literal_error": "escolha um destes: {expected}",
    "string_pattern_mismatch": "formato inválido (use letras, números, _ ou -)",
    "string_too_short": "curto demais (mínimo {min_length})",
    "string_too_long": "longo demais (máximo {max_length})",
    "string_type": "precisa ser um texto",
    "list_type": "precisa ser uma lista",
    "extra_forbidden": "ajuste desconhecido",
}


def reason(error: Any) -> str:
    """The plain pt-BR reason of one pydantic error (its English message when there is none)."""
    template = _REASONS.get(error["type"])
    if template is None:
        return str(error["msg"])
    try:
        return template.format(**error.get("ctx", {}))
    except (KeyError, IndexError):
        return str(error["msg"])


def _problems(exc: ValidationError) -> list[Problem]:
    return [Problem(".".join(str(p) for p in e["loc"]) or "settings", reason(e)) for e in exc.errors()]


def _config_problem(exc: ConfigError, keys: list[str]) -> Problem:
    """A ConfigError names its key first (e.g. `sync.password_file ... can be read by other users`)."""
    first = str(exc).split(" ", 1)[0]
    return Problem(first if first in keys else "settings", str(exc))


def plan(state_dir: Path, values: dict[str, Any]) -> tuple[Settings, Settings, dict[str, Any]]:
    """(settings now, after, the page's file after) for a change; SettingsRefusedError naming each bad field."""
    refused = [Problem(k, "não pode ser mudado nesta página") for k in values if k not in EDITABLE]
    wanted = _normalised({k: v for k, v in values.items() if k in EDITABLE})
    env = environment_keys()
    refused += [Problem(k, "definido por uma variável de ambiente PAPO_ do serviço") for k in wanted if k in env]
    if refused:
        raise SettingsRefusedError(refused)
    try:
        before = current(state_dir)
    except ConfigError as exc:
        raise SettingsRefusedError([Problem("settings", str(exc))]) from None
    local = copy.deepcopy(read_local_settings(state_dir))
    for key, value in wanted.items():
        section, _, name = key.partition(".")
        local.setdefault(section, {})[name] = value
    try:
        after = settings_with_local(state_dir, local)
    except ValidationError as exc:
        raise SettingsRefusedError(_problems(exc)) from None
    except ConfigError as exc:
        raise SettingsRefusedError([_config_problem(exc, list(wanted))]) from None
    return before, after, local


def change(
    state_dir: Path, started: Settings, values: dict[str, Any], who: str, apply_live: Callable[[Settings], None]
) -> Outcome:
    """Validate, keep and record a change, and apply its live keys; SettingsRefusedError (nothing done) if invalid."""
    with _LOCK:
        before, after, local = plan(state_dir, values)
        changes = [(k, value_of(before, k), value_of(after, k)) for k in sorted(_normalised(values))]
        changes = [(k, old, new) for k, old, new in changes if old != new]
        write_local_settings(state_dir, local)
        entries = changelog.record(state_dir, who, changes)
    live = [key for key, _, _ in changes if key in live_keys()]
    if live:
        apply_live(after)
    pending = pending_restart(started, after)
    keys = ",".join(key for key, _, _ in changes)
    by = "voice" if who == SPOKEN else "page"
    log.info("settings changed", extra=fields(by=by, keys=keys, live=",".join(live), restart=",".join(pending)))
    return Outcome(after, entries, live, pending)


def keep_spoken(started: Settings, apply_live: Callable[[Settings], None], key: str, value: Any) -> None:
    """Keep a change asked for aloud («fala mais alto») as the page keeps its own; SettingsRefusedError if refused."""
    change(started.state_dir, started, {key: value}, SPOKEN, apply_live)
