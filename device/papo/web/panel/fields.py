"""The settings the page may change, grouped and labelled for the form (labels are pt-BR msgids)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "number", "select", "toggle", "list"]


def N_(message: str) -> str:  # noqa: N802 (gettext's marker name, known to the extractors)
    """Mark a msgid for extraction; it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class FormField:
    """One setting on the page: its dotted key, label, help, input kind and (for a select) its options."""

    key: str
    label: str
    help: str
    kind: Kind
    group: str
    options: tuple[tuple[str, str], ...] = ()


_VOICE, _LISTEN, _SOUND = N_("Fala e voz"), N_("Escuta"), N_("Som")
_LLM, _CLOUD, _PRIVACY = N_("Modelo de linguagem"), N_("Nuvem"), N_("Privacidade")

FORM: tuple[FormField, ...] = (
    FormField(
        "conversation.language", N_("Idioma"), N_("A língua em que Papo ouve e fala."), "select", _VOICE,
        (("pt", N_("Português")), ("en", N_("Inglês"))),
    ),
    FormField(
        "tts.engine", N_("Motor de voz"), N_("espeak: instantâneo; piper ou kokoro: vozes mais naturais."), "select",
        _VOICE, (("espeak", "espeak-ng"), ("piper", "Piper"), ("kokoro", "Kokoro")),
    ),
    FormField("tts.voice", N_("Voz"), N_("Nome da voz; vazio: a voz padrão do idioma."), "text", _VOICE),
    FormField("tts.rate_wpm", N_("Velocidade da fala"), N_("Palavras por minuto (80 a 400)."), "number", _VOICE),
    FormField("audio.volume", N_("Volume"), N_("De 0 a 100 por cento."), "number", _VOICE),
    FormField("conversation.companion_name", N_("Nome do companheiro"), N_("Como Papo se apresenta."), "text", _VOICE),
    FormField(
        "conversation.wake_words", N_("Palavras de chamada"),
        N_("Papo responde quando ouve uma destas palavras, separadas por vírgula; vazio: responde a tudo."),
        "list", _LISTEN,
    ),
    FormField(
        "audio.input_device", N_("Microfone"), N_("Nome ou número do dispositivo; vazio: o padrão."), "text", _SOUND
    ),
    FormField(
        "audio.output_device", N_("Alto-falante"), N_("Nome ou número do dispositivo; vazio: o padrão."), "text", _SOUND
    ),
    FormField(
        "llm.endpoint", N_("Endereço do modelo"), N_("embedded: o modelo deste aparelho; ou um endereço http://.../v1."),
        "text", _LLM,
    ),
    FormField("llm.model", N_("Modelo"), N_("O nome do modelo de linguagem."), "text", _LLM),
    FormField("sync.enabled", N_("Ligar à nuvem"), N_("Envia as conversas à nuvem da família."), "toggle", _CLOUD),
    FormField("sync.host", N_("Servidor (broker)"), N_("Nome ou endereço do servidor MQTT."), "text", _CLOUD),
    FormField("sync.port", N_("Porta"), N_("Porta do servidor MQTT."), "number", _CLOUD),
    FormField("sync.tenant", N_("Família (tenant)"), N_("Letras, números, _ e -."), "text", _CLOUD),
    FormField("sync.username", N_("Usuário"), N_("Vazio: o nome deste aparelho."), "text", _CLOUD),
    FormField(
        "sync.password_file", N_("Arquivo de credenciais"), N_("Arquivo com a senha do aparelho (modo 600)."), "text",
        _CLOUD,
    ),
    FormField(
        "privacy.history", N_("Guardar o histórico"),
        N_("Desligado: nada do que é dito fica guardado; Papo continua respondendo."), "toggle", _PRIVACY,
    ),
    FormField(
        "privacy.keep_unaddressed", N_("Guardar a fala não dirigida a Papo"),
        N_("Desligado: só o que foi dito a Papo fica guardado."), "toggle", _PRIVACY,
    ),
)  # fmt: skip

EDITABLE: frozenset[str] = frozenset(field.key for field in FORM)

# Keys changed along with another: the language Papo hears follows the one it speaks.
LINKED: dict[str, tuple[str, ...]] = {"conversation.language": ("stt.language",)}


def groups() -> list[tuple[str, list[FormField]]]:
    """The form's fields by group, in order."""
    ordered: dict[str, list[FormField]] = {}
    for field in FORM:
        ordered.setdefault(field.group, []).append(field)
    return list(ordered.items())
