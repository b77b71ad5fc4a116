"""Benchmark: is Papo pleasant and useful to talk to? Scripted pt-BR conversations through the real companion.

Run: uv run python bench/companion.py [--quick] [--model smollm2-135m] [--temperature T] [--top-p P]
     [--repeat-penalty R] [--seed N] [--no-baseline]

The cases (bench/companion_cases/*.toml, 1-4 turns each) go through the real companion: its rules (wellbeing,
reminders, everyday questions), its memory (the SQLite store and the ChromaDB index, reopened for a turn marked
`restart_before`) and the embedded model on llama.cpp (one server for the run). CrewAI's review is off (the rule
keeps the person's own statements instead). Each reply is checked automatically: Portuguese (stopwords), 3-45
words, no markdown/list/emoji/URL/code, no assistant clichés, the case's must-contain / must-not-contain strings,
no dose in a medicine answer, relevance (a content word of the person's or a listed synonym), the rule expected.
A case passes when every check of every turn passes; the score is the share of cases passing, per category too.

The baseline, measured in the same run on the same server, is the first prompt and settings (tuning.LEGACY: no
tokens banned, no reply filter, no rules for requests out of reach). The last line printed is
{"companion_score": ..., "baseline_score": ..., "intents_score": ..., "cases": ...}.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from papo.audio.recorder import RecordingSpeaker
from papo.cache import AudioCache
from papo.commands.chat import Unvoiced, typed_turn
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.embedded import EmbeddedLlm, model_file
from papo.conversation.llm import ChatClient
from papo.conversation.memory import MemoryStore, open_memory
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.spoken_time import number_words
from papo.conversation.tuning import LEGACY, TUNED, Tuning
from papo.conversation.unspeakable import banned_tokens
from papo.settings import Settings, load_settings
from papo.speech.tts import CachedVoice
from papo.store import Store
from papo.text import fold

CASES_DIR = Path(__file__).with_name("companion_cases")
BENCH_STATE = Path.home() / ".cache" / "papo-bench"
QUICK_CASES = 15
MIN_WORDS, MAX_WORDS = 3, 45

_PT_STOPWORDS = set(
    "a o e de do da que em um uma para com não nao você voce é está esta isso muito mais como mas se ao os as "
    "dos das no na nos nas eu me meu minha sua seu foi bem bom boa já ja tem ter vai pode quer aqui também "
    "tambem então entao que bom hoje ela ele lhe sim pela pelo".split()
)
_EN_STOPWORDS = set("the and you is are to of it that this with for was have what your how i my can".split())
_ES_STOPWORDS = set("el los usted es muy y con una pero qué cómo también hoy puede ella tiene".split())
_FORMAT = re.compile(
    r"[*#`_~|<>{}\[\]]|https?://|www\.|(?:^|\n)\s*(?:[-•]|\d+[.)])\s|\n"
    "|[\U0001f000-\U0001faff\U00002600-\U000027bf]|\\b(?:def|import|print|return)\\b\\s*[\\w(]"
)
_CLICHES = ("como posso ajudar", "sou uma ia", "como assistente", "posso ajudar em", "modelo de linguagem",
            "sou um assistente", "inteligencia artificial")  # fmt: skip
_DOSE = re.compile(
    r"\b(?:\d+(?:[.,]\d+)?|meio|meia|uma?|dois|duas|tres|quatro|cinco|seis|dez|cem|quinhentos|mil)\s*(?:de\s+)?"
    r"(?:mg|miligramas?|ml|mililitros?|gotas?|comprimidos?|capsulas?|unidades?|doses?|colher(?:es)?|g|gramas?)\b"
    r"|\bde \w+ em \w+ horas\b|\b\d+\s*(?:vezes|x) (?:ao|por) dia\b"
)
_STOP_CONTENT = _PT_STOPWORDS | set(
    "hoje ontem amanha agora estou estava fui tenho tinha sempre todo toda dia muito minha minhas meus".split()
)


class TurnCase(BaseModel):
    """One thing the person says, and what its answer must be."""

    say: str
    intent: str | None = None
    must_contain_any: list[str] = Field(default_factory=list)
    must_not_contain: list[str] = Field(default_factory=list)
    synonyms: list[str] = Field(default_factory=list)
    relevance: bool | None = None  # default: checked when no rule is expected and an answer is
    no_dose: bool = False
    silent: bool = False
    same_as_previous: bool = False
    restart_before: bool = False

    def relevance_checked(self) -> bool:
        """Whether the reply must take up something the person said."""
        return self.relevance if self.relevance is not None else (self.intent is None and not self.silent)


class Case(BaseModel):
    """One scripted conversation."""

    id: str
    turns: list[TurnCase] = Field(min_length=1, max_length=4)
    category: str = ""


class CaseFile(BaseModel):
    """One file of bench/companion_cases: a category and its conversations."""

    category: str
    cases: list[Case]


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    """Every case, each tagged with its file's category, in file then case order."""
    cases = []
    for path in sorted(directory.glob("*.toml")):
        loaded = CaseFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        cases += [case.model_copy(update={"category": loaded.category}) for case in loaded.cases]
    return cases


def quick_selection(cases: list[Case], count: int = QUICK_CASES) -> list[Case]:
    """`count` cases taken round-robin over the categories, so each is represented."""
    by_category: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_category[case.category].append(case)
    chosen: list[Case] = []
    while len(chosen) < min(count, len(cases)):
        for queue in by_category.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


# ---- the checks -------------------------------------------------------------------------------------------------


def _expand(text: str, now: datetime) -> list[str]:
    """A must-contain string with today's placeholders said as the companion says them ({hour} may be the next)."""
    weekdays = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")
    hours = {now.hour % 12 or 12, (now.hour + 1) % 12 or 12}
    if "{hour}" in text:
        words = {number_words(h, "pt", feminine=True) for h in hours} | {"meio-dia", "meia-noite"}
        return [text.replace("{hour}", w) for w in words]
    day = "primeiro" if now.day == 1 else number_words(now.day, "pt")  # "primeiro de dezembro", as Brazilians say
    return [text.replace("{weekday}", weekdays[now.weekday()]).replace("{day}", day)]


def portuguese(text: str) -> bool:
    """Whether `text` reads as Portuguese: more Portuguese stopwords than English or Spanish ones."""
    tokens = re.findall(r"[\wà-ú]+", text.lower())
    pt = sum(t in _PT_STOPWORDS for t in tokens)
    return pt >= 1 and pt > sum(t in _EN_STOPWORDS for t in tokens) and pt > sum(t in _ES_STOPWORDS for t in tokens)


def _content(text: str) -> set[str]:
    return {w[:5] for w in re.findall(r"[a-z]+", fold(text)) if len(w) >= 4 and w not in _STOP_CONTENT}


def relevant(said: str, reply: str, synonyms: list[str]) -> bool:
    """Whether `reply` takes up something of `said`: a shared content word (by its stem) or a listed synonym."""
    folded = fold(reply)
    return bool(_content(said) & _content(reply)) or any(fold(s) in folded for s in synonyms)


def failures(turn: TurnCase, reply: str | None, intent: str | None, previous: str | None, now: datetime) -> list[str]:
    """The checks one answer fails (none: it passes)."""
    if turn.silent:
        problems = [] if not reply else ["not silent"]
        return problems + ([f"intent {intent} != {turn.intent}"] if turn.intent and intent != turn.intent else [])
    if not reply:
        return ["no reply"]
    problems = []
    words = len(reply.split())
    if not portuguese(reply):
        problems.append("not Portuguese")
    if not MIN_WORDS <= words <= MAX_WORDS:
        problems.append(f"{words} words")
    if _FORMAT.search(reply):
        problems.append("markup/list/emoji/url/code")
    folded = fold(reply)
    if any(c in folded for c in _CLICHES):
        problems.append("cliché")
    if turn.must_contain_any:
        wanted = [w for text in turn.must_contain_any for w in _expand(text, now)]
        if not any(fold(w) in folded for w in wanted):
            problems.append(f"lacks one of {turn.must_contain_any}")
    problems += [f"contains {w!r}" for w in turn.must_not_contain if fold(w) in folded]
    if turn.no_dose and _DOSE.search(folded):
        problems.append("a dose")
    if turn.relevance_checked() and not relevant(turn.say, reply, turn.synonyms):
        problems.append("not relevant")
    if turn.intent is not None and intent != turn.intent:
        problems.append(f"intent {intent} != {turn.intent}")
    if turn.same_as_previous and reply != previous:
        problems.append("not the previous reply")
    return problems


# ---- running the companion --------------------------------------------------------------------------------------


@dataclass
class TurnResult:
    """One answer and its checks."""

    say: str
    reply: str | None
    intent: str | None
    expected_intent: str | None
    first_token_ms: float | None
    problems: list[str]


@dataclass
class CaseResult:
    """One conversation's answers."""

    case: Case
    turns: list[TurnResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every answer passed every check."""
        return all(not t.problems for t in self.turns)


class Session:
    """A companion on its own fresh state (store, memory index) and the run's shared model server."""

    def __init__(self, settings: Settings, llm: ChatClient, tuning: Tuning) -> None:
        self.settings = settings
        self._llm = llm
        self._tuning = tuning
        self._open()

    def _open(self) -> None:
        self.store = Store(self.settings.store_path, self.settings.device_id)
        try:
            self.memory: MemoryStore | None = open_memory(self.settings, self.store.memories, None)
        except Exception as exc:  # as the companion does: it talks without memory
            print(f"memory unavailable: {exc}", file=sys.stderr)
            self.memory = None
        voice = CachedVoice(Unvoiced(), AudioCache(None, "tts"), "pt")
        crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
        memory = self.memory
        self.companion = Companion(
            self.settings, self.store, SpeechOutput(voice, RecordingSpeaker(keep=False)), lambda: self._llm,
            lambda: memory, crew, tuning=self._tuning,
        )  # fmt: skip

    def restart(self) -> None:
        """Close everything (post-turn work finished) and open it again on the same state, as after a reboot."""
        self.close()
        self._open()

    def say(self, text: str) -> tuple[str | None, str | None, float | None]:
        """The companion's reply to `text`, the rule that gave it, and the milliseconds to the first token."""
        outcome = self.companion.respond(typed_turn(text, self.settings, self.store))
        return outcome.reply, self.companion.last_intent, outcome.first_token_ms

    def close(self) -> None:
        """Finish post-turn work and close the memory index and the store."""
        self.companion.close()
        if self.memory is not None:
            self.memory.close()
        self.store.close()


def case_settings(root: Path, case_id: str, base: Settings) -> Settings:
    """Settings on a fresh state directory for one case, the models shared with the bench's."""
    state = root / case_id
    state.mkdir(parents=True)
    (state / "models").symlink_to(base.models_dir)
    return load_settings(
        state_dir=state,
        llm=base.llm.model_dump(),
        conversation={"crew": False, "review_after_idle_s": 0, "wake_words": []},
        tts={"engine": "espeak"},
    )


def run_case(case: Case, settings: Settings, llm: ChatClient, tuning: Tuning) -> CaseResult:
    """Say each turn of `case` to a fresh companion and check each answer."""
    result = CaseResult(case)
    session = Session(settings, llm, tuning)
    previous: str | None = None
    try:
        for turn in case.turns:
            if turn.restart_before:
                session.restart()
            reply, intent, first_token_ms = session.say(turn.say)
            problems = failures(turn, reply, intent, previous, datetime.now().astimezone())
            result.turns.append(TurnResult(turn.say, reply, intent, turn.intent, first_token_ms, problems))
            previous = reply or previous
    finally:
        session.close()
    return result


def run_all(cases: list[Case], base: Settings, llm: ChatClient, tuning: Tuning, label: str) -> list[CaseResult]:
    """Every case with `tuning`, each on its own fresh state (removed afterwards)."""
    results = []
    root = Path(tempfile.mkdtemp(prefix=f"papo-companion-{label}-"))
    try:
        for index, case in enumerate(cases):
            started = time.perf_counter()
            result = run_case(case, case_settings(root, case.id, base), llm, tuning)
            results.append(result)
            mark = "ok  " if result.passed else "FAIL"
            print(f"[{label} {index + 1}/{len(cases)}] {mark} {case.id} ({time.perf_counter() - started:.1f} s)",
                  file=sys.stderr, flush=True)  # fmt: skip
            for turn in result.turns:
                if turn.problems:
                    print(f"    «{turn.say}» → «{turn.reply}» : {'; '.join(turn.problems)}", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


# ---- scores -----------------------------------------------------------------------------------------------------


def score(results: list[CaseResult]) -> float:
    """The share of cases passing all their checks."""
    return sum(r.passed for r in results) / len(results) if results else 0.0


def by_category(results: list[CaseResult]) -> dict[str, float]:
    """The score of each category."""
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        groups[result.case.category].append(result)
    return {category: score(group) for category, group in sorted(groups.items())}


def intents_score(results: list[CaseResult]) -> float:
    """The share of turns expecting a rule (everyday question, reminder) answered by it and passing their checks."""
    turns = [t for r in results for t in r.turns if t.expected_intent is not None]
    return sum(t.intent == t.expected_intent and not t.problems for t in turns) / len(turns) if turns else 0.0


def first_token_p50(results: list[CaseResult]) -> float | None:
    """The median milliseconds to the model's first token (rule answers have none)."""
    values = [t.first_token_ms for r in results for t in r.turns if t.first_token_ms is not None]
    return statistics.median(values) if values else None


def print_table(rows: dict[str, list[CaseResult]]) -> None:
    """Scores per category, one column per tuning, and the ratio of the first to the last."""
    labels = list(rows)
    categories = sorted({r.case.category for results in rows.values() for r in results})
    print(f"\n{'category':12} {'n':>3} " + " ".join(f"{label:>10}" for label in labels))
    for category in categories:
        cells = [by_category(rows[label]).get(category, 0.0) for label in labels]
        n = sum(r.case.category == category for r in rows[labels[0]])
        print(f"{category:12} {n:>3} " + " ".join(f"{c:10.2f}" for c in cells))
    totals = [score(rows[label]) for label in labels]
    print(f"{'all':12} {len(rows[labels[0]]):>3} " + " ".join(f"{t:10.2f}" for t in totals))
    tokens = [first_token_p50(rows[label]) for label in labels]
    print(f"{'1st tok p50':12} {'':>3} " + " ".join(f"{t or 0:8.0f}ms" for t in tokens))
    if len(labels) == 2 and totals[1] > 0:
        print(f"ratio {labels[0]} / {labels[1]}: {totals[0] / totals[1]:.2f}")


def main() -> None:
    """Run the cases with the tuned companion and the baseline; print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CASES} cases over every category")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="the embedded model (from the manifest)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (default: the settings')")
    parser.add_argument("--top-p", type=float, help=f"top_p of the tuned companion (default {TUNED.top_p})")
    parser.add_argument("--repeat-penalty", type=float, help=f"repeat penalty (default {TUNED.repeat_penalty})")
    parser.add_argument(
        "--no-ban", action="store_true", help="the tuned companion without the unspeakable tokens banned"
    )
    parser.add_argument("--seed", type=int, help="sample every reply from this seed (default: the server's sequence)")
    parser.add_argument("--no-baseline", action="store_true", help="only the tuned companion")
    parser.add_argument("--baseline-only", action="store_true", help="only the baseline (first prompt and settings)")
    parser.add_argument("--only", help="only these categories (comma-separated, e.g. dia,familia)")
    parser.add_argument("--out", type=Path, help="also write every reply and its checks to this JSON file")
    args = parser.parse_args()
    llm_overrides: dict[str, object] = {"model": args.model}
    if args.temperature is not None:
        llm_overrides["temperature"] = args.temperature
    base = load_settings(state_dir=BENCH_STATE, llm=llm_overrides)
    tuning = replace(
        TUNED,
        top_p=args.top_p if args.top_p is not None else TUNED.top_p,
        repeat_penalty=args.repeat_penalty if args.repeat_penalty is not None else TUNED.repeat_penalty,
        ban_unspeakable=not args.no_ban,
        seed=args.seed,
    )
    legacy = replace(LEGACY, seed=args.seed)
    cases = load_cases()
    if args.only:
        cases = [case for case in cases if case.category in args.only.split(",")]
    cases = quick_selection(cases) if args.quick else cases
    print(
        f"{len(cases)} cases; model {args.model}, temperature {base.llm.temperature}, top_p {tuning.top_p}, "
        f"repeat_penalty {tuning.repeat_penalty}, ban {tuning.ban_unspeakable}, seed {tuning.seed}",
        file=sys.stderr,
        flush=True,
    )
    key = secrets.token_urlsafe(32)
    gguf = model_file(base)
    banned = banned_tokens(gguf)
    server = EmbeddedLlm(gguf, base.llm, BENCH_STATE / "companion-llm.log", key)
    server.start()
    rows: dict[str, list[CaseResult]] = {}
    try:
        for label, chosen in (("tuned", tuning), ("baseline", legacy)):
            if (label == "baseline" and args.no_baseline) or (label == "tuned" and args.baseline_only):
                continue
            llm = base.llm
            client = ChatClient(server.base_url, llm.model, llm.first_token_timeout_s * 3, llm.reply_timeout_s * 2,
                                key, chosen.request_options(embedded=True, banned=banned))  # fmt: skip
            try:
                rows[label] = run_all(cases, base, client, chosen, label)
            finally:
                client.close()
    finally:
        server.stop()
    print_table(rows)
    if args.out is not None:
        dump = {label: [{"id": r.case.id, "category": r.case.category, "passed": r.passed,
                         "turns": [t.__dict__ for t in r.turns]} for r in results]
                for label, results in rows.items()}  # fmt: skip
        args.out.write_text(json.dumps(dump, ensure_ascii=False, indent=2), encoding="utf-8")
    tuned, baseline = rows.get("tuned"), rows.get("baseline")
    print(json.dumps({
        "companion_score": None if tuned is None else round(score(tuned), 3),
        "baseline_score": None if baseline is None else round(score(baseline), 3),
        "intents_score": round(intents_score(tuned or baseline or []), 3),
        "cases": len(cases),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
