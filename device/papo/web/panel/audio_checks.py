"""The page's sound checks: say a sample with a chosen voice (a WAV in the state directory), record-and-play 3 s."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from papo.audio.check import AudioCheck, run_check
from papo.audio.wav import write_wav
from papo.errors import ModelError, PapoError
from papo.models.inventory import prepared
from papo.models.manifest import load_manifest
from papo.service import VoiceService
from papo.settings import Settings
from papo.speech.tts import PIPER_MODELS, Speech, TtsError, load_voice

KOKORO_MODEL = "kokoro-82m"
SAMPLES = {"pt": "Olá! Eu sou o Papo. É assim que eu falo.", "en": "Hello! I am Papo. This is how I sound."}


def voice_test_path(state_dir: Path) -> Path:
    """Where the last voice sample is written."""
    return state_dir / "voice-test.wav"


@dataclass(frozen=True)
class VoiceSample:
    """A sample said with a voice: its file, its length, and whether a speaker played it."""

    path: Path
    duration_s: float
    played: bool


def unprepared_model(settings: Settings) -> str | None:
    """The model a neural voice of `settings` needs, if it is not prepared yet (a test never prepares models)."""
    tts = settings.tts
    if tts.engine == "espeak":
        return None
    name = KOKORO_MODEL if tts.engine == "kokoro" else tts.voice or PIPER_MODELS.get(settings.conversation.language)
    if name is None:
        return None  # load_voice says why
    try:
        entry = load_manifest().get(name)
    except ModelError:
        return None  # load_voice says which models exist
    return None if prepared(entry, settings.models_dir) else name


def voice_test(settings: Settings, voice: VoiceService, text: str | None = None) -> VoiceSample:
    """Voice `text` (a sample in the settings' language) with the settings' voice, write it, play it if possible.

    TtsError (a PapoError) when the voice cannot be loaded (espeak-ng missing, an unknown model).
    """
    language = settings.conversation.language
    missing = unprepared_model(settings)
    if missing is not None:
        raise TtsError(
            f"a voz precisa do modelo {missing}, ainda não preparado: ele é preparado quando o Papo reinicia com "
            f"esta voz, ou com `papo models provision {missing}`"
        )
    spoken = load_voice(settings, language)
    speech = Speech(spoken.synthesize(text or SAMPLES[language]), spoken.rate)
    gain = settings.audio.volume / 100
    path = voice_test_path(settings.state_dir)
    write_wav(path, speech.samples * gain, speech.rate)
    runtime = voice.conversation
    played = False
    if runtime is not None and (runtime.companion.output.has_speaker or runtime.companion.output.reopening):
        played = runtime.companion.output.say_speech(speech)
    return VoiceSample(path, speech.seconds, played)


def speaker_present(output_device: str | None) -> bool:
    """Whether the output device opens (it is closed again at once)."""
    from papo.audio.native import NativeSpeaker

    try:
        NativeSpeaker(output_device).close()
    except PapoError:
        return False
    return True


def device_test(input_device: str | None, output_device: str | None, seconds: float = 3.0) -> AudioCheck:
    """Record `seconds` from the input and play them back on the output if there is one; the level seen.

    AudioInputError (NoAudioInputError when there is no microphone) if the input cannot be opened or read.
    """
    return run_check(input_device, output_device, seconds, play_back=speaker_present(output_device))
