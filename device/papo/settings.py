"""The one Settings model: arguments, PAPO_* variables, the page's settings, the TOML file, the fleet's, defaults.

Precedence, strongest first: arguments, PAPO_* variables, the settings the owner changed on the local web page
(`local-settings.json` in the state directory, mode 0600, written only by the page after validation), the TOML
file ($PAPO_CONFIG, else /etc/papo/papo.toml: root's, read-only to the daemon), the fleet's desired settings
(`fleet-settings.json`), defaults. The page's and the TOML file's keys are the owner's (`local_keys()`): they win
over the fleet's and are reported to it as held locally.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import stat
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic.config import JsonDict
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from papo.errors import ConfigError
from papo.statedir import write_private
from papo.system.credentials import credential
from papo.system.logging import fields

log = logging.getLogger(__name__)

SYSTEM_CONFIG_PATH = Path("/etc/papo/papo.toml")

Language = Literal["pt", "en", "es", "fr", "de", "it", "auto"]


def default_state_dir() -> Path:
    """Return /var/lib/papo for the system service (systemd's $STATE_DIRECTORY), else the user's XDG state dir."""
    service_dir = os.environ.get("STATE_DIRECTORY")
    if service_dir:
        return Path(service_dir.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "papo"


def fleet_settings_path(state_dir: Path) -> Path:
    """The settings the fleet asked for (desired state), kept in `state_dir`."""
    return state_dir / "fleet-settings.json"


def local_settings_path(state_dir: Path) -> Path:
    """The settings the owner changed on the local web page, kept in `state_dir` (they win over the TOML file)."""
    return state_dir / "local-settings.json"


def fleet_version_path(state_dir: Path) -> Path:
    """The version of the fleet's desired settings last kept in `state_dir` (reported as applied at start)."""
    return fleet_settings_path(state_dir).with_name("fleet-version")


def config_path() -> Path:
    """Return the TOML file settings are read from: $PAPO_CONFIG, else /etc/papo/papo.toml."""
    return Path(os.environ.get("PAPO_CONFIG") or SYSTEM_CONFIG_PATH)


class FleetSettingsSource(PydanticBaseSettingsSource):
    """The fleet's desired settings: `fleet-settings.json` in the state directory the stronger sources name.

    The owner's sources (arguments, PAPO_* variables, the TOML file: `current_state`) are stronger, so they name
    the state directory (else the default) and win key by key. A file that does not load or that the fleet may not
    set (`fleet_problems`) is set aside, with one warning, and the settings are built without it: never a stop.
    """

    def state_dir(self) -> Path:
        """The state directory the settings being built will have."""
        value = self.current_state.get("state_dir")
        return default_state_dir() if value is None else Path(value)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the file is read whole in `__call__`."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The kept desired settings; nothing when the fleet has set none or the file was set aside."""
        path = fleet_settings_path(self.state_dir())
        if not path.exists():
            return {}
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems = [f"unreadable: {exc}"]
        else:
            problems = fleet_problems(values)
        if not problems:
            return dict(values)
        _set_aside(path, "; ".join(problems))
        return {}


class LocalSettingsSource(PydanticBaseSettingsSource):
    """The owner's settings from the web page: `local-settings.json` in the state directory.

    It ranks above the TOML file, so the state directory is the one the stronger sources (`current_state`) or the
    TOML file name, else the default. A file that does not load is set aside, with one warning.
    """

    def __init__(self, settings_cls: type[BaseSettings], toml: TomlConfigSettingsSource) -> None:
        super().__init__(settings_cls)
        self._toml = toml

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the file is read whole in `__call__`."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The page's settings; nothing when the owner changed none or the file was set aside."""
        pending = _PENDING_LOCAL.get()
        if pending is not None:
            return pending
        value = self.current_state.get("state_dir") or self._toml.toml_data.get("state_dir")
        return read_local_settings(default_state_dir() if value is None else Path(value))


# The page's settings being tried (settings_with_local), read instead of the file while a candidate is built.
_PENDING_LOCAL: ContextVar[dict[str, Any] | None] = ContextVar("pending_local_settings", default=None)


def settings_with_local(state_dir: Path, values: dict[str, Any]) -> Settings:
    """The Settings every source gives with `values` as the page's file (nothing written); ValidationError if bad."""
    token = _PENDING_LOCAL.set(values)
    try:
        return Settings(state_dir=state_dir)
    finally:
        _PENDING_LOCAL.reset(token)


def read_local_settings(state_dir: Path) -> dict[str, Any]:
    """The settings the owner changed on the page (`local_settings_path`); {} if none, or set aside if unreadable."""
    path = local_settings_path(state_dir)
    if not path.exists():
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _set_aside(path, f"unreadable: {exc}", also=())
        return {}
    if not isinstance(values, dict):
        _set_aside(path, "not an object", also=())
        return {}
    return values


def write_local_settings(state_dir: Path, values: dict[str, Any]) -> None:
    """Replace the page's settings file as a whole (0600, never half-written)."""
    write_private(local_settings_path(state_dir), json.dumps(values, indent=2, sort_keys=True).encode())


def _set_aside(path: Path, reason: str, also: tuple[Path, ...] | None = None) -> None:
    """Rename the fleet file (and its version) with a timestamp, so the device starts without it; warn once."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.set-aside-{stamp}")
    companions = (fleet_version_path(path.parent),) if also is None else also
    try:
        path.replace(aside)
        for companion in companions:
            if companion.exists():
                companion.replace(companion.with_name(f"{companion.name}.set-aside-{stamp}"))
    except OSError as exc:
        aside = path
        reason = f"{reason}; it could not be moved: {exc.strerror}"
    log.warning("settings file set aside; starting without it", extra=fields(path=str(aside), reason=reason))


# Marks a field the running daemon applies at once (a fleet change to it needs no restart); see live_keys().
LIVE: JsonDict = {"live": True}
# Marks a field the fleet may set (desired state); every other key is the device's own; see fleet_keys().
FLEET: JsonDict = {"fleet": True}
LIVE_FLEET: JsonDict = LIVE | FLEET


class Section(BaseModel):
    """A settings section: unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid")


class AudioSettings(Section):
    """Where sound comes from."""

    backend: Literal["native", "sounddevice"] = Field(
        default="native", description="native: the Rust cpal module; sounddevice: PortAudio through Python"
    )
    input_device: str | None = Field(default=None, description="Input device id or part of its name")
    output_device: str | None = Field(default=None, description="Output device id or part of its name")
    ring_seconds: float = Field(default=2.0, ge=0.2, le=30.0, description="Captured audio buffered for slow readers")
    read_timeout_s: float = Field(default=2.0, gt=0, le=30.0, description="Silence from the device that counts as lost")
    retry_max_s: float = Field(default=60.0, gt=0, description="Longest wait between tries to open the device")
    volume: int = Field(
        default=100, ge=0, le=100, description="Loudness of what Papo says, percent", json_schema_extra=LIVE_FLEET
    )


class VadSettings(Section):
    """How speech is found: Silero VAD probabilities with hysteresis."""

    start_threshold: float = Field(default=0.5, gt=0, lt=1)
    end_threshold: float = Field(default=0.35, gt=0, lt=1)
    min_speech_ms: int = Field(default=200, ge=32)
    end_silence_ms: int = Field(default=480, ge=96, description="Silence that ends an utterance")
    pre_roll_ms: int = Field(default=192, ge=0)
    tail_ms: int = Field(default=160, ge=0, description="Audio kept after the last speech frame")
    speculate_after_ms: int = Field(default=96, ge=32, description="Silence after which decoding starts early")
    max_utterance_s: float = Field(default=28.0, gt=1, le=28.0)


class SttSettings(Section):
    """How speech becomes text: faster-whisper (CTranslate2, int8)."""

    model: Literal["whisper-base", "whisper-tiny-en"] = Field(default="whisper-base", json_schema_extra=FLEET)
    language: Language = Field(default="pt", json_schema_extra=FLEET)
    beam_size: int = Field(default=1, ge=1, le=5, json_schema_extra=FLEET)
    threads: int = Field(
        default=0, ge=0, le=16, description="CPU threads of the speech-to-text (0: from the CPU budget)"
    )
    short_window: bool = Field(default=True, description="Encode only the utterance, not a 30 s window")
    window_margin_s: float = Field(default=1.5, ge=0.2, le=5.0)
    min_window_s: float = Field(
        default=15.0, ge=0.0, le=30.0, description="Shortest encoder window (measured: bench/stt.py --sweep)"
    )
    full_window_under_s: float = Field(
        default=2.5, ge=0.0, le=30.0, description="Utterances shorter than this get the short-utterance window"
    )
    short_utterance_window_s: float = Field(
        default=30.0, ge=5.0, le=30.0, description="Encoder window for utterances under full_window_under_s"
    )
    no_speech_threshold: float = Field(default=0.6, gt=0, lt=1)
    log_prob_threshold: float = Field(default=-1.0, lt=0)
    compression_ratio_threshold: float = Field(default=2.4, gt=1)


class CacheSettings(Section):
    """The on-disk cache of recomputable results (sled), bounded for SD cards."""

    enabled: bool = True
    max_mb: float = Field(default=64.0, gt=0, description="Content above this is evicted, oldest first")
    max_disk_mb: float = Field(default=512.0, gt=0, description="The cache is wiped if its files grow past this")
    max_disk_ratio: float = Field(default=8.0, gt=1, description="... or past this multiple of its content")
    flush_every_ms: int = Field(default=5000, ge=100, description="How often it is written to disk")
    memory_mb: float = Field(default=4.0, ge=0, description="The hottest entries kept in memory (0: none)")


class ServerSettings(Section):
    """Where the local web page and API listen."""

    host: str = Field(
        default="0.0.0.0", description="Address to serve on: 0.0.0.0 is the home network (the page only answers to "
        "the device's own names and addresses); 127.0.0.1 is this machine only",
    )  # fmt: skip
    port: int = Field(default=8080, ge=1, le=65535, description="Port to serve on")
    mdns: bool = Field(default=True, description="Advertise the page as papo-XXXX.local on the home network")
    names: list[str] = Field(
        default=[], description="More host names the page answers to (e.g. a name the router gives the device); "
        "it always answers to papo-XXXX.local, the device's addresses and localhost",
    )  # fmt: skip


class StoreSettings(Section):
    """How turns are grouped into conversations."""

    conversation_idle_s: float = Field(default=300.0, gt=0, description="Silence that closes a conversation")


class LlmSettings(Section):
    """Which language model answers: the embedded llama.cpp server or any OpenAI-compatible endpoint."""

    endpoint: str = Field(
        default="embedded",
        description="embedded: run llama.cpp here with `model`; or an OpenAI-compatible base URL (http://host:port/v1)",
    )
    model: str = Field(default="qwen2.5-coder-0.5b", description="Model name (a GGUF of the manifest when embedded)")
    api_key_env: str | None = Field(default=None, description="Environment variable holding the endpoint's API key")
    first_token_timeout_s: float = Field(default=6.0, gt=0, le=120, description="Wait for the first word this long")
    reply_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Longest a whole reply may take")
    max_tokens: int = Field(default=120, ge=8, le=2048, description="Longest reply, in tokens")
    temperature: float = Field(default=0.6, ge=0, le=2)
    context_tokens: int = Field(default=2048, ge=512, le=32768, description="Embedded model's context window")
    threads: int = Field(
        default=0, ge=0, le=16, description="CPU threads of the embedded model (0: from the CPU budget)"
    )


class TtsSettings(Section):
    """How the companion speaks."""

    engine: Literal["espeak", "piper", "kokoro"] = Field(
        default="espeak", description="espeak: espeak-ng (instant, robotic); piper or kokoro: neural voices",
        json_schema_extra=FLEET,
    )  # fmt: skip
    voice: str | None = Field(
        default=None, description="espeak-ng voice, Piper model or Kokoro voice; default: by language",
        json_schema_extra=FLEET,
    )  # fmt: skip
    rate_wpm: int = Field(
        default=160,
        ge=80,
        le=400,
        description="espeak-ng speaking speed, words per minute",
        json_schema_extra=LIVE_FLEET,
    )


class ConversationSettings(Section):
    """How the companion talks and what it keeps."""

    enabled: bool = Field(default=True, description="Answer aloud (off: only listen and write down)")
    language: Literal["pt", "en"] = Field(default="pt", json_schema_extra=FLEET)
    companion_name: str = Field(default="Papo", min_length=1, max_length=40, json_schema_extra=LIVE_FLEET)
    history_turns: int = Field(
        default=6, ge=0, le=40, description="Earlier turns of the conversation in the prompt",
        json_schema_extra=LIVE_FLEET,
    )  # fmt: skip
    memories_in_prompt: int = Field(
        default=4, ge=0, le=20, description="Recalled memories in the prompt", json_schema_extra=LIVE_FLEET
    )
    wake_words: list[str] = Field(
        default=["papo"], description="The daemon answers speech naming one of these (empty: answers everything)",
        json_schema_extra=LIVE_FLEET,
    )  # fmt: skip
    follow_up_s: float = Field(
        default=20.0, ge=0, le=600, description="Replies within this window need no wake word",
        json_schema_extra=LIVE_FLEET,
    )  # fmt: skip
    anticipate: bool = Field(
        default=True, description="Start writing the answer at the first pause in speech", json_schema_extra=LIVE_FLEET
    )
    crew: bool = Field(default=True, description="Run the CrewAI post-turn crew (memory and wellbeing review)")
    review_after_idle_s: float = Field(
        default=15.0, ge=0, le=3600, description="The crew reviews turns once the conversation pauses this long",
        json_schema_extra=LIVE_FLEET,
    )  # fmt: skip
    reminder_grace_min: float = Field(
        default=30.0, ge=0, le=1440,
        description="Reminders overdue longer than this (a clock jump, the device off) are missed: the latest one "
        "is mentioned once, none is said as due",
    )  # fmt: skip
    checkin_min: float = Field(
        default=3.0, ge=0.5, le=60,
        description="While a caregiver alert is open and nobody has acknowledged it, Papo asks this often (minutes) "
        "whether the person is all right; «estou bem» ends the questions",
    )  # fmt: skip


class SyncSettings(Section):
    """Syncing conversations to the cloud and fleet management, over MQTT."""

    enabled: bool = Field(default=False, description="Connect to the fleet broker")
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    tenant: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The family or organisation")
    username: str | None = Field(default=None, description="Broker user (default: the device id)")
    password_file: Path | None = Field(
        default=None,
        description="File holding the device's broker password (default: the service's broker-password credential)",
    )
    tls_ca: Path | None = Field(default=None, description="CA bundle: turns TLS on")
    tls_cert: Path | None = None
    tls_key: Path | None = Field(default=None, description="Client key (default: the service's tls-key credential)")
    fleet_public_key: Path | None = Field(
        default=None,
        description="The fleet's Ed25519 public key (PEM, from `papo-cloud devices add`): only settings and commands "
        "signed by it are taken; without it every one is refused",
    )
    telemetry_every_s: float = Field(default=60.0, ge=1, le=3600)
    batch_items: int = Field(default=200, ge=1, le=500)
    outbox_max_rows: int = Field(
        default=20_000, ge=100, description="Rows kept while the cloud is away; beyond, the oldest turns are dropped"
    )
    outbox_max_mb: float = Field(
        default=50.0, gt=0, le=10_000, description="Payload kept while the cloud is away; beyond, the oldest turns go"
    )

    @model_validator(mode="after")
    def _secrets_are_private(self) -> SyncSettings:
        """Take unset secrets from systemd's credentials; refuse (ConfigError) one that group or others may read."""
        if self.password_file is None:
            self.password_file = credential("broker-password")
        if self.tls_key is None:
            self.tls_key = credential("tls-key")
        if self.enabled:
            for key, path in (("sync.password_file", self.password_file), ("sync.tls_key", self.tls_key)):
                if path is not None:
                    _check_private_file(key, path)
        return self


def _check_private_file(key: str, path: Path) -> None:
    """Raise ConfigError, with the command that fixes it, when `path` is missing or open to group or others."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ConfigError(f"{key} {path} cannot be read: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(
            f"{key} {path} can be read by other users (mode {mode:04o}); run: chmod 600 {shlex.quote(str(path))}"
        )


class PrivacySettings(Section):
    """What papo keeps of what it hears."""

    keep_unaddressed: bool = Field(
        default=False,
        description="Keep every utterance heard as a turn (synced to the cloud when sync is on); off: only what was "
        "said to the companion (wake word, follow-up window) is kept, other speech is checked in memory for signs "
        "of trouble and dropped",
        json_schema_extra=LIVE,
    )
    history: bool = Field(
        default=True,
        description="Keep the conversation history (turns, synced when sync is on); off: nothing said is stored, "
        "the companion still answers and wellbeing signs are still recorded",
        json_schema_extra=LIVE,
    )


class Settings(BaseSettings):
    """Everything papo can be configured with."""

    model_config = SettingsConfigDict(env_prefix="PAPO_", env_nested_delimiter="__", extra="forbid")

    state_dir: Path = Field(default_factory=default_state_dir)
    device_id: str = Field(default="papo-local", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="debug also logs what people say and what the companion answers; info never does",
        json_schema_extra=FLEET,
    )  # fmt: skip
    audio: AudioSettings = AudioSettings()
    vad: VadSettings = VadSettings()
    stt: SttSettings = SttSettings()
    server: ServerSettings = ServerSettings()
    store: StoreSettings = StoreSettings()
    cache: CacheSettings = CacheSettings()
    llm: LlmSettings = LlmSettings()
    tts: TtsSettings = TtsSettings()
    conversation: ConversationSettings = ConversationSettings()
    sync: SyncSettings = SyncSettings()
    privacy: PrivacySettings = PrivacySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: arguments, PAPO_* variables, the page's and the TOML file (the owner's), the fleet's."""
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        local = LocalSettingsSource(settings_cls, toml)
        return init_settings, env_settings, local, toml, FleetSettingsSource(settings_cls)

    @property
    def models_dir(self) -> Path:
        """Directory holding assembled, verified model files."""
        return self.state_dir / "models"

    @property
    def cache_dir(self) -> Path:
        """The sled cache directory."""
        return self.state_dir / "cache"

    @property
    def memory_dir(self) -> Path:
        """The ChromaDB directory of long-term memories."""
        return self.state_dir / "memory"

    @property
    def crew_dir(self) -> Path:
        """Where CrewAI keeps its last review (the conversation's words: wiped by erasures)."""
        return self.state_dir / "crewai"

    @property
    def store_path(self) -> Path:
        """The SQLite database file."""
        return self.state_dir / "papo.sqlite3"


def _marked(field: FieldInfo, marker: str) -> bool:
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get(marker) is True


def _keys_marked(marker: str) -> frozenset[str]:
    keys = {name for name, field in Settings.model_fields.items() if _marked(field, marker)}
    for name, field in Settings.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            keys |= {f"{name}.{key}" for key, item in section.model_fields.items() if _marked(item, marker)}
    return frozenset(keys)


@cache
def live_keys() -> frozenset[str]:
    """The dotted keys (`section.key`) the running daemon applies at once: the fields marked LIVE."""
    return _keys_marked("live")


@cache
def fleet_keys() -> frozenset[str]:
    """The dotted keys (`section.key`) the fleet may set: the fields marked FLEET; all others are the device's."""
    return _keys_marked("fleet")


def dotted_keys(values: dict[str, Any]) -> set[str]:
    """The keys a settings mapping sets, dotted (`section.key`); a section given as a non-mapping is one key."""
    keys = set()
    for name, value in values.items():
        keys |= {f"{name}.{key}" for key in value} if isinstance(value, dict) else {name}
    return keys


# A fleet may not widen who the companion answers: at least one wake word, each of this many letters or more.
_WAKE_WORD_LETTERS = 3
# Names passed to the speech engines as they are: no option-like or path-like values from the fleet.
_VOICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")


@cache
def _plain_settings() -> type[BaseModel]:
    """Settings' fields as a plain model: validates given values alone (Settings itself also reads its sources)."""
    fields: dict[str, Any] = {name: (field.annotation, field) for name, field in Settings.model_fields.items()}
    return create_model("FleetSettings", __config__=ConfigDict(extra="forbid"), **fields)


def _wake_word_letters(word: object) -> int:
    return sum(c.isalnum() for c in word) if isinstance(word, str) else 0


def fleet_problems(values: object) -> list[str]:
    """Why the fleet may not set `values` (keys outside fleet_keys(), a widened wake, invalid values); [] if it may."""
    if not isinstance(values, dict):
        return [f"the fleet's settings must be an object, not {type(values).__name__}"]
    refused = sorted(dotted_keys(values) - fleet_keys())
    if refused:
        return [f"not settable by the fleet (set on the device only): {', '.join(refused)}"]
    problems = []
    conversation, tts = values.get("conversation", {}), values.get("tts", {})
    wake_words = conversation.get("wake_words", ["papo"])
    short = isinstance(wake_words, list) and any(_wake_word_letters(w) < _WAKE_WORD_LETTERS for w in wake_words)
    if isinstance(wake_words, list) and not wake_words:
        problems.append("conversation.wake_words: the fleet may not empty them (the device would answer everything)")
    elif short:
        problems.append(f"conversation.wake_words: each needs {_WAKE_WORD_LETTERS} letters or more")
    voice = tts.get("voice")
    if isinstance(voice, str) and not _VOICE.match(voice):
        problems.append("tts.voice: a voice or model name (letters, digits, _ . + -)")
    if values.get("log_level") == "debug":
        problems.append("log_level: debug logs what people say; only the device's owner may turn it on")
    try:
        _plain_settings().model_validate(values)
    except ValidationError as exc:
        problems += [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return problems


def environment_keys() -> frozenset[str]:
    """The dotted keys PAPO_* variables set (the strongest source: the page cannot change them)."""
    try:
        return frozenset(dotted_keys(EnvSettingsSource(Settings)()))
    except ValueError:
        return frozenset()


def local_keys(state_dir: Path | None = None) -> frozenset[str]:
    """The dotted keys the owner sets (PAPO_* variables, the page's file in `state_dir`, TOML): they beat the fleet."""
    try:
        toml = TomlConfigSettingsSource(Settings, toml_file=config_path())()
    except (OSError, ValueError):
        toml = {}
    page = read_local_settings(state_dir) if state_dir is not None else {}
    return environment_keys() | frozenset(key for values in (toml, page) for key in dotted_keys(values))


def _describe(error: dict[str, object]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))  # type: ignore[attr-defined]
    return f"{location or 'settings'}: {error.get('msg')} (got {error.get('input')!r})"


def load_settings(**overrides: object) -> Settings:
    """Build Settings from file, environment and overrides; raise ConfigError naming each bad key."""
    path = config_path()
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(e)) for e in exc.errors())
        raise ConfigError(f"invalid configuration ({path} or PAPO_* variables): {problems}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc}") from None
