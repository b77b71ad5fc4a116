"""Erasure leaves no trace, on the device or in the cloud (issue 11, the marker test): the shipped programs.

Generated pt-BR speech, three sentences said to Papo, each with a made-up marker word, goes through the daemon
(`papo run --input`, real models, a scripted LLM, the CrewAI review on, sync on) to a real Mosquitto,
`papo-cloud ingest`, PostgreSQL and Redis. Each marker becomes a turn, the companion's answer (spoken, its
audio cached by voice and text), a memory (SQLite and ChromaDB) and synced cloud rows. Then, while the daemon
runs, `papo forget TURN` erases the second marker and `papo forget --all --yes` everything; once the cloud has
confirmed each erasure, every file under the state directory (models aside), a `pg_dump` of the cloud's
database and every Redis key of the cloud's prefix are searched for the markers' bytes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from papo.audio.wav import write_wav
from papo.cache import CacheNamespace
from papo.settings import load_settings
from papo.speech.tts import load_voice
from papo.speech.voicegen import with_silence
from papo_sync.cloud.settings import CloudSettings
from support.broker import CLOUD_USERS, Broker, device_password, free_port
from support.cli import PAPO, papo
from support.markers import files_holding, in_postgresql, in_redis
from support.scripted_llm import Script, ScriptedLlm, when_said
from support.speech import SpeechMaker
from support.wait import wait_until

pytestmark = [pytest.mark.services, pytest.mark.models]
PAPO_CLOUD = PAPO.with_name("papo-cloud")

# Made-up words Whisper base writes back exactly from the generated speech (checked with `papo listen --json`);
# "Zorbaflinque" came back as "Zorba Flinke", "Quixabeira" as "que chabeira", "Pirulambo" as "Piro Lambo".
SAID = {
    "Jabutikaba": "Papo, a minha gata se chama Jabutikaba.",
    "Catapimba": "Papo, o meu vizinho se chama Catapimba.",  # the one forgotten alone
    "Zambuqueiro": "Papo, o meu vizinho se chama Zambuqueiro.",  # unrelated: survives the forgetting of one turn
}
FIRST, FORGOTTEN, UNRELATED = SAID
# The first sentence of an answer is voiced while the person pauses and not cached; the second is, by voice and text.
CACHED = {marker: f"Conte mais sobre {marker}." for marker in SAID}
REPLIES = {marker: f"Que nome bonito, {marker}! {CACHED[marker]}" for marker in SAID}
FACTS = {marker: f"A pessoa conhece alguém chamado {marker}" for marker in SAID}


@pytest.fixture
def scripted() -> Iterator[ScriptedLlm]:
    """Answers each sentence naming its marker; the crew's review keeps a fact with the marker it was shown."""

    def review(messages: list[dict[str, str]]) -> Script | None:
        text = "\n".join(m["content"] for m in messages)
        if "Memory keeper" not in text:
            return None
        latest = max(SAID, key=text.rfind)  # the turn under review (an earlier one may be in its context)
        facts = [FACTS[latest]] if latest in text else []
        return Script(text=json.dumps({"facts": facts, "concern": "none"}))

    replies = [when_said(marker, Script(text=reply)) for marker, reply in REPLIES.items()]
    llm = ScriptedLlm(rules=[review, *replies]).start()
    yield llm
    llm.close()


@pytest.fixture
def ingest(cloud: CloudSettings, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The shipped `papo-cloud ingest`, subscribed to the test broker."""
    env = {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": cloud.database_url, "PAPO_CLOUD_REDIS_PREFIX": cloud.redis_prefix,
        "PAPO_CLOUD_BROKER__PORT": str(cloud.broker.port), "PAPO_CLOUD_BROKER__USERNAME": "ingest",
        "PAPO_CLOUD_BROKER__PASSWORD": CLOUD_USERS["ingest"], "PAPO_CLOUD_BATCH_WAIT_MS": "10",
    }  # fmt: skip
    log = tmp_path / "ingest.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(PAPO_CLOUD), "ingest"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: process.poll() is None and "ingestor subscribed" in log.read_text(), 30,
                   lambda: f"papo-cloud ingest to subscribe; its log:\n{log.read_text()[-2000:]}")  # fmt: skip
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _daemon_env(state_dir: Path, broker: Broker, llm: ScriptedLlm) -> dict[str, str]:
    password = state_dir / "broker-password"
    password.write_text(device_password("dev-1"))
    password.chmod(0o600)  # papo refuses a password file others can read
    return {
        "PAPO_DEVICE_ID": "dev-1", "PAPO_SYNC__ENABLED": "true", "PAPO_SYNC__PORT": str(broker.port),
        "PAPO_SYNC__TENANT": "acme", "PAPO_SYNC__PASSWORD_FILE": str(password),
        "PAPO_LLM__ENDPOINT": llm.url, "PAPO_LLM__MODEL": "scripted", "PAPO_CONVERSATION__REVIEW_AFTER_IDLE_S": "0",
    }  # fmt: skip


def _rows(state_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{state_dir / 'papo.sqlite3'}?mode=ro", uri=True)) as store:
        return store.execute(query).fetchall()


def _reply_keys() -> dict[str, bytes]:
    """The cache keys of the spoken replies (the cache keeps audio by voice and text, the text only hashed)."""
    voice = load_voice(load_settings(), "pt").name  # espeak-ng: nothing is synthesized here
    return {marker: CacheNamespace.key(voice, sentence) for marker, sentence in CACHED.items()}


def _cached(state_dir: Path, key: bytes) -> bool:
    return any(key in p.read_bytes() for p in (state_dir / "cache").rglob("*") if p.is_file())


def _erasures(env: dict[str, str]) -> list[dict[str, Any]]:
    listed = papo("forget", "--status", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def _confirmed(env: dict[str, str], count: int) -> bool:
    requests = _erasures(env)
    return len(requests) == count and all(r["scrubbed_at"] and r["confirmed_at"] for r in requests)


def _where(state_dir: Path, database: str, cloud: CloudSettings, marker: str) -> dict[str, Any]:
    """Every place `marker` is kept: the device's files, the cloud's database and Redis."""
    return {
        "files": files_holding(state_dir, marker), "postgresql": in_postgresql(database, marker),
        "redis": in_redis(cloud, marker),
    }  # fmt: skip


NOWHERE = {"files": [], "postgresql": False, "redis": False}


def test_forget_one_turn_then_everything_leaves_no_marker_on_the_device_or_in_the_cloud(
    state_dir: Path, tmp_path: Path, speech: SpeechMaker, scripted: ScriptedLlm, broker: Broker,
    cloud: CloudSettings, ingest: subprocess.Popen[bytes], database: str, db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    room = tmp_path / "room.wav"
    write_wav(room, with_silence([speech.say(sentence) for sentence in SAID.values()], gap_s=2.0, lead_s=1.0))
    env = _daemon_env(state_dir, broker, scripted)
    daemon = subprocess.Popen(
        [str(PAPO), "run", "--port", str(free_port()), "--input", str(room)],  # `--port 0` is the default, 8080
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:

        def log() -> str:
            daemon.kill()
            return daemon.communicate()[0][-4000:]

        def kept() -> bool:
            assert daemon.poll() is None, daemon.communicate()[0][-3000:]
            if db.execute("SELECT count(*) FROM turn").fetchone()[0] != 6:  # the store is made by then
                return False
            memories = _rows(state_dir, "SELECT text FROM memory")
            replies = _rows(state_dir, "SELECT text FROM turn WHERE role = 'companion'")
            outbox = _rows(state_dir, "SELECT count(*) FROM outbox")[0][0]
            return len(memories) == 3 and len(replies) == 3 and outbox == 0

        wait_until(kept, 150, lambda: f"six turns in PostgreSQL, three memories, three replies; log:\n{log()}")
        said = [text for (text,) in _rows(state_dir, "SELECT text FROM turn WHERE role = 'person' ORDER BY seq")]
        assert [[marker in text for marker in SAID] for text in said] == [[True, False, False], [False, True, False],
                                                                         [False, False, True]], said  # fmt: skip
        assert sorted(text for (text,) in _rows(state_dir, "SELECT text FROM memory")) == sorted(FACTS.values())
        keys = _reply_keys()
        wait_until(lambda: all(_cached(state_dir, key) for key in keys.values()), 30, "the replies' audio cached")
        for marker in SAID:  # where each marker is before the erasures, so its absence afterwards means something
            where = _where(state_dir, database, cloud, marker)
            assert where["postgresql"] and where["redis"], (marker, where)
            assert {"papo.sqlite3", "papo.sqlite3-wal"} & set(where["files"]), (marker, where)
            assert any(name.startswith("memory/") for name in where["files"]), (marker, where)

        history = json.loads(papo("history", "--json", env=env).stdout)
        (turn_id,) = [t["id"] for t in history if t["role"] == "person" and FORGOTTEN in t["text"]]
        forgot = papo("forget", turn_id, env=env)
        assert forgot.returncode == 0, forgot.stdout + forgot.stderr
        assert "wiped from the disk too" in forgot.stdout, forgot.stdout
        assert "waiting for it to wipe its memory index and cache" in forgot.stderr  # by the running daemon
        wait_until(lambda: _confirmed(env, 1), 60, lambda: f"the cloud's confirmation: {_erasures(env)}")
        assert _where(state_dir, database, cloud, FORGOTTEN) == NOWHERE
        assert not _cached(state_dir, keys[FORGOTTEN])
        for marker in (FIRST, UNRELATED):
            where = _where(state_dir, database, cloud, marker)
            assert where["files"] and where["postgresql"] and where["redis"], (marker, where)
        assert db.execute("SELECT count(*) FROM turn").fetchone()[0] == 4  # the turn and the answer to it

        erased = papo("forget", "--all", "--yes", env=env)
        assert erased.returncode == 0, erased.stdout + erased.stderr
        assert "waiting for it to wipe its memory index and cache" in erased.stderr
        wait_until(lambda: _confirmed(env, 2), 60, lambda: f"the cloud's confirmation: {_erasures(env)}")
        assert {marker: _where(state_dir, database, cloud, marker) for marker in SAID} == dict.fromkeys(SAID, NOWHERE)
        assert not any(_cached(state_dir, key) for key in keys.values())
        assert db.execute("SELECT count(*) FROM turn").fetchone()[0] == 0

        daemon.send_signal(signal.SIGINT)
        output, _ = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    assert daemon.returncode == 0, output[-3000:]
    assert {marker: files_holding(state_dir, marker) for marker in SAID} == {m: [] for m in SAID}  # after its stop
