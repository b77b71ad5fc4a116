"""`papo`: the command line of the Papo Social companion (parsing and calling only)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from papo import __version__
from papo.errors import PapoError
from papo.settings import Settings, load_settings
from papo.statedir import private_umask
from papo.system.logging import configure_logging

DESCRIPTION = """\
Papo Social: a voice companion you talk to (Portuguese first, English too).

Everyday commands:
  papo demo                 a short spoken conversation: what the companion understood and answered
  papo listen FILE.wav      write down everything said in a recording
  papo listen --mic         write down what you say into the microphone (Ctrl-C to stop)
  papo listen FILE --reply  ...and answer each sentence aloud, as the companion would
  papo say "Bom dia!"       say a sentence with the companion's voice
  papo chat                 talk to the companion by typing (or: papo chat "Bom dia, Papo!")
  papo run                  start the companion service with its local web page
  papo audio test           check the microphone and the speaker
  papo models list          show the speech models and whether they are ready
  papo history              what was said to the companion, each with its id
  papo forget ID            erase one thing that was said (and what came from it), everywhere
  papo forget --all         erase everything the companion keeps of what was said (asks first)
  papo export --out F.json  save everything the companion keeps about the person in one file
  papo setup-code           a code to claim the web page (http://papo-XXXX.local:8080) without a speaker

Settings come from /etc/papo/papo.toml (or the file named by PAPO_CONFIG) and PAPO_* variables.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="papo", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"papo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show detailed progress messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="a short spoken conversation with the companion: what it heard, what it answered, how fast",
        description="Prepares every model first (with progress), then plays three Brazilian Portuguese sentences "
        "into the companion as if someone said them: something about the person's day, a question that needs "
        "what was said, and the time. For each it shows what was heard, what the companion answered (aloud, or "
        "into a WAV file when there is no speaker) and how long it took from the end of speech. With --text or "
        "--no-reply: one sentence only.",
    )
    demo.add_argument("--text", help="say only this sentence (made with a synthetic voice) and answer it")
    demo.add_argument("--fast", action="store_true", help="do not wait for the sample to play at normal speed")
    demo.add_argument("--no-reply", action="store_true", help="only write down what was heard; do not answer")

    listen = commands.add_parser(
        "listen",
        help="write down what is said in a recording or into the microphone",
        description="Finds every sentence spoken in a WAV recording (or live from the microphone) and prints "
        "what was said, one line per sentence. Sentences said to Papo (its name, or a follow-up to its answer) "
        "are also kept in the companion's records; the rest is not kept.",
    )
    source = listen.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", type=Path, help="a WAV recording (8-48 kHz, mono or stereo)")
    source.add_argument("--mic", action="store_true", help="listen to the microphone instead of a file")
    listen.add_argument("--device", help="microphone name (or part of it) or number; default: the system's")
    listen.add_argument("--seconds", type=float, help="with --mic: stop after this many seconds")
    listen.add_argument("--json", action="store_true", help="print one JSON object per sentence")
    listen.add_argument("--no-store", action="store_true", help="do not keep the sentences in the records")
    listen.add_argument("--reply", action="store_true", help="answer each sentence aloud, as the companion would")
    listen.add_argument(
        "--no-play",
        action="store_true",
        help="with --reply: write each spoken answer to a WAV file instead of playing it",
    )
    listen.add_argument(
        "--out-dir",
        type=Path,
        default=Path(),
        help="with --no-play: folder for the reply-NNN.wav files (default: here)",
    )

    say = commands.add_parser(
        "say",
        help="say a sentence with the companion's voice",
        description="Speaks the sentence with the voice set in the settings (espeak-ng by default), on the speaker "
        "or into a WAV file.",
    )
    say.add_argument("text", help="what to say, in quotes")
    say.add_argument("--out", type=Path, help="write the speech to this WAV file instead of playing it")

    chat = commands.add_parser(
        "chat",
        help="talk to the companion by typing instead of speaking",
        description="Type to the companion and read its answers: the same companion as the voice, with the same "
        "rules, reminders and memory, and what you type is kept in its records like speech said to it. Give one "
        'sentence in quotes (papo chat "Que horas são?"), or nothing to have a conversation: type a line, press '
        "Enter, read the answer; type «sair» or press Ctrl-D to end. Each answer is also said aloud, unless "
        "--no-voice.",
    )
    chat.add_argument("text", nargs="?", help="one sentence to say to the companion, in quotes (default: a talk)")
    chat.add_argument("--no-voice", action="store_true", help="only print the answers; do not say them aloud")
    chat.add_argument(
        "--json",
        action="store_true",
        help="print each answer as one JSON line: the reply, the rule that answered it (or null for the language "
        "model) and the milliseconds to its first word",
    )

    history = commands.add_parser(
        "history",
        help="show what was said to the companion, each with its id",
        description="Shows the newest things said to the companion and its answers, oldest first, each with the id "
        "that `papo forget ID` takes.",
    )
    history.add_argument("--limit", type=int, default=20, help="how many to show (default 20)")
    history.add_argument("--json", action="store_true", help="print JSON")

    forget = commands.add_parser(
        "forget",
        help="erase one thing that was said, or everything",
        description="Erases for good, on this device and in the family's cloud: one thing that was said (give its "
        "id from `papo history`) with the companion's answer and what it remembered or noticed from it, or, with "
        "--all, every conversation, memory, wellbeing event and reminder already said. Erased words are also wiped "
        "from the files on the disk, so they cannot be recovered.",
    )
    forget.add_argument("turn_id", nargs="?", metavar="ID", help="what to erase: an id shown by `papo history`")
    forget.add_argument("--all", action="store_true", help="erase everything (asks first)")
    forget.add_argument(
        "--include-reminders", action="store_true", help="also erase the reminders not said yet (kept otherwise)"
    )
    forget.add_argument("--yes", action="store_true", help="with --all: do not ask first")
    forget.add_argument(
        "--status",
        action="store_true",
        help="show past erasures: when asked, wiped from the disk, confirmed by the cloud",
    )
    forget.add_argument("--json", action="store_true", help="with --status: print JSON")

    export = commands.add_parser(
        "export",
        help="save everything the companion keeps about the person in one file",
        description="Writes everything this device keeps about the person (conversations, memories, reminders, "
        "wellbeing events, erasures asked for, and the settings) to one JSON file that only you can read. Its "
        "format is described in docs/export-schema.json.",
    )
    export.add_argument("--out", type=Path, required=True, help="the file to write, e.g. papo-export.json")

    memory = commands.add_parser("memory", help="see or erase what the companion remembers")
    memory_commands = memory.add_subparsers(dest="memory_command", required=True, metavar="ACTION")
    memory_list = memory_commands.add_parser("list", help="show every memory with its id")
    memory_list.add_argument("--json", action="store_true", help="print JSON")
    memory_forget = memory_commands.add_parser(
        "forget",
        help="erase one memory (by id) or all of them, for good",
        description="Erases a memory (or all of them) and wipes it from the files on the disk.",
    )
    memory_forget.add_argument("id", nargs="?", help="the id shown by `papo memory list`")
    memory_forget.add_argument("--all", action="store_true", help="erase every memory")

    reminders = commands.add_parser("reminders", help="show the reminders the companion will say")
    reminders.add_argument("--all", action="store_true", help="also show the ones already said or missed")
    reminders.add_argument("--json", action="store_true", help="print JSON")

    run = commands.add_parser(
        "run",
        help="start the companion service (listening, and the local web page)",
        description="Starts the companion: it listens to the microphone, writes down and stores what is said, "
        "answers when spoken to (say its name, 'Papo'), speaks reminders, syncs with the family's cloud when "
        "configured, and serves its local web page and API. Press Ctrl-C to stop.",
    )
    run.add_argument(
        "--host", help="address to serve on (default 0.0.0.0: the home network; 127.0.0.1: this machine only)"
    )
    run.add_argument("--port", type=int, help="port to serve on (default 8080)")
    run.add_argument(
        "--input", type=Path, help="listen to this WAV recording (played in real time) instead of a microphone"
    )

    audio = commands.add_parser("audio", help="list sound devices or test the microphone and speaker")
    audio_commands = audio.add_subparsers(dest="audio_command", required=True, metavar="ACTION")
    devices = audio_commands.add_parser("devices", help="list microphones and speakers")
    devices.add_argument("--json", action="store_true", help="print JSON")
    check = audio_commands.add_parser(
        "test",
        help="record 3 seconds, play them back, and say how it sounded",
        description="Records a few seconds from the microphone, plays them back on the speaker, and reports the "
        "input level, dropped audio and delays.",
    )
    check.add_argument("--device", help="microphone id or part of its name (default: the system's)")
    check.add_argument("--output", help="speaker id or part of its name (default: the system's)")
    check.add_argument("--seconds", type=float, default=3.0, help="how long to record (default 3)")
    check.add_argument("--no-playback", action="store_true", help="only record, do not play back")
    check.add_argument("--json", action="store_true", help="print JSON")

    models = commands.add_parser("models", help="list, check or prepare the speech models")
    model_commands = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = model_commands.add_parser("list", help="show every model, its size and whether it is ready")
    listing.add_argument("--json", action="store_true", help="print JSON")
    verify = model_commands.add_parser("verify", help="re-check every prepared model file (sha256)")
    verify.add_argument("names", nargs="*", help="models to check (default: all prepared ones)")
    prepare = model_commands.add_parser("provision", help="prepare models from their installed packages")
    prepare.add_argument("names", nargs="*", help="models to prepare (default: the ones the settings use)")
    prepare.add_argument("--force", action="store_true", help="rebuild the files even if they look fine")

    commands.add_parser(
        "setup-code",
        help="print a code to claim the local web page (for a device without a speaker)",
        description="Prints a new one-time setup code (valid 10 minutes; the previous one stops working). Open "
        "the page, type it and choose the owner's password. Only root or the service's user may run it.",
    )
    reset = commands.add_parser(
        "reset-owner",
        help="remove the web page's owner so setup opens again",
        description="Removes the owner account of the local web page: every session ends and the setup page opens "
        "again (Papo says a new code). Only root or the service's user may run it.",
    )
    reset.add_argument("--yes", action="store_true", help="do not ask first")

    config = commands.add_parser("config", help="show the settings in effect")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    config_commands.add_parser("show", help="print the settings in effect, as TOML-like lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `papo` command; errors are printed as one line and give a non-zero exit code."""
    private_umask()  # what papo writes (store, cache, memory, logs) is readable by its own user only
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging("debug" if args.verbose else settings.log_level)
        return _dispatch(args, settings)
    except PapoError as exc:
        print(f"papo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("papo: stopped", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from papo import commands

    if args.command == "demo":
        if args.text is None and not args.no_reply:
            return commands.conversation_demo(settings, fast=args.fast)
        return commands.demo(settings, text=args.text, fast=args.fast, reply=not args.no_reply)
    if args.command == "listen":
        if args.file is None and not args.mic:
            raise PapoError("give a WAV file or --mic")
        return commands.listen(
            settings,
            file=args.file,
            device=args.device,
            seconds=args.seconds,
            as_json=args.json,
            store=not args.no_store,
            reply=commands.ReplyOptions(play=not args.no_play, out_dir=args.out_dir) if args.reply else None,
        )
    if args.command == "say":
        return commands.say(settings, args.text, args.out)
    if args.command == "chat":
        return commands.chat(settings, args.text, voice=not args.no_voice, as_json=args.json)
    if args.command == "history":
        return commands.history(settings, limit=args.limit, as_json=args.json)
    if args.command == "forget":
        return _forget(args, settings)
    if args.command == "export":
        return commands.export(settings, args.out)
    if args.command == "memory":
        if args.memory_command == "list":
            return commands.memory_list(settings, as_json=args.json)
        return commands.memory_forget(settings, args.id, everything=args.all)
    if args.command == "reminders":
        return commands.reminders_list(settings, include_done=args.all, as_json=args.json)
    if args.command == "run":
        return commands.run(settings, host=args.host, port=args.port, recording=args.input)
    if args.command == "audio":
        if args.audio_command == "devices":
            return commands.audio_devices(as_json=args.json)
        return commands.audio_test(args.device, args.output, args.seconds, not args.no_playback, as_json=args.json)
    if args.command == "setup-code":
        return commands.setup_code(settings)
    if args.command == "reset-owner":
        return commands.reset_owner(settings, yes=args.yes)
    if args.command == "models":
        if args.models_command == "list":
            return commands.models_list(settings, as_json=args.json)
        if args.models_command == "verify":
            return commands.models_verify(settings, args.names)
        return commands.models_provision(settings, args.names, force=args.force)
    return commands.config_show(settings)


def _forget(args: argparse.Namespace, settings: Settings) -> int:
    from papo import commands

    chosen = [name for name, given in (("ID", args.turn_id is not None), ("--all", args.all), ("--status", args.status))
              if given]  # fmt: skip
    if len(chosen) != 1:
        raise PapoError("give one of: an ID (see `papo history`), --all, or --status")
    if args.status:
        return commands.forget_status(settings, as_json=args.json)
    if args.all:
        return commands.forget_all(settings, include_reminders=args.include_reminders, yes=args.yes)
    return commands.forget_turn(settings, args.turn_id, include_reminders=args.include_reminders)
