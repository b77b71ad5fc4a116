"""Long-term memory: ChromaDB (PersistentClient under the state dir) indexing the store's memory rows."""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from papo import _native
from papo.cache import VectorCache
from papo.conversation.embeddings import MODEL_NAME, MiniLmEmbedder
from papo.conversation.offline import keep_offline
from papo.models.manifest import load_manifest
from papo.models.provision import provision
from papo.settings import Settings
from papo.store import Memory, MemoryKind
from papo.store.memories import MemoryRepository
from papo.system.logging import fields

log = logging.getLogger(__name__)

COLLECTION = "memories"


def _connect(directory: Path, fresh: bool = False) -> tuple[Any, Any]:
    """A ChromaDB client on `directory` and its memories collection (created if missing)."""
    keep_offline()
    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient
    from chromadb.config import Settings as ChromaSettings

    if fresh:  # chromadb keeps one client per path for the process; drop the broken one
        SharedSystemClient.clear_system_cache()
    directory.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(
        path=str(directory), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    )
    collection = client.get_or_create_collection(COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"})
    return client, collection


def _rewrite(directory: Path, client: Any, collection: Any, keep: set[str]) -> tuple[Any, Any]:
    """Recreate the index's files holding only the entries in `keep` (their vectors copied, not recomputed).

    Deleting from ChromaDB leaves the text in its SQLite file's free pages; files made anew hold nothing else.
    """
    found = collection.get(include=["embeddings", "documents", "metadatas"])
    kept = [i for i, memory_id in enumerate(found["ids"]) if memory_id in keep]
    client.close()
    shutil.rmtree(directory, ignore_errors=True)
    client, collection = _connect(directory)
    batch = max(1, int(client.get_max_batch_size()))
    for start in range(0, len(kept), batch):
        chosen = kept[start : start + batch]
        collection.upsert(
            ids=[found["ids"][i] for i in chosen],
            embeddings=[found["embeddings"][i] for i in chosen],
            documents=[found["documents"][i] for i in chosen],
            metadatas=[found["metadatas"][i] for i in chosen],
        )
    return client, collection


def scrub_index(directory: Path, keep: set[str]) -> None:
    """Rewrite the index in `directory` (open in no other process) keeping only the memories in `keep`.

    An index that cannot be read is removed: the memory store rebuilds it from SQLite when it next opens.
    """
    if not directory.exists():
        return
    try:
        client, collection = _connect(directory)
        client, _ = _rewrite(directory, client, collection, keep)
        client.close()
    except Exception as exc:  # an unreadable index holds nothing that SQLite does not; remove it
        log.warning("memory index unreadable; removed it", extra=fields(reason=str(exc)[:200]))
        shutil.rmtree(directory, ignore_errors=True)


class MemoryStore:
    """Remember, recall by meaning and forget; SQLite holds every memory, ChromaDB is a rebuildable index.

    Safe to share between threads (the companion, the post-turn review, an erasure): one index operation at a time.
    """

    def __init__(self, directory: Path, records: MemoryRepository, embedder: MiniLmEmbedder) -> None:
        self._dir = directory
        self._records = records
        self._embedder = embedder
        self._lock = threading.RLock()
        self._client: Any = None
        self._collection: Any = None
        self._open()

    def _open(self) -> None:
        try:
            self._client, self._collection = _connect(self._dir)
            if self._collection.count() != len(self._records.all()):
                self._reindex("the index and the store disagree")
        except Exception as exc:  # a broken index must never block the conversation; rebuild it from SQLite
            log.warning("memory index unusable; rebuilding it", extra=fields(reason=str(exc)[:200]))
            shutil.rmtree(self._dir, ignore_errors=True)
            self._client, self._collection = _connect(self._dir, fresh=True)
            self._reindex("rebuilt after a failure")

    def _reindex(self, why: str) -> None:
        existing = self._collection.get(include=[])["ids"]
        if existing:
            self._collection.delete(ids=existing)
        rows = self._records.all()
        if rows:
            self._index(rows)
        log.info("memory index rebuilt", extra=fields(reason=why, memories=len(rows)))

    def _index(self, rows: list[Memory]) -> None:
        vectors = self._embedder.embed([row.text for row in rows])
        self._collection.upsert(
            ids=[row.id for row in rows],
            embeddings=[v.tolist() for v in vectors],
            documents=[row.text for row in rows],
            metadatas=[{"kind": row.kind.value, "created_at": row.created_at.isoformat()} for row in rows],
        )

    def remember(self, text: str, kind: MemoryKind, turn_id: str | None) -> Memory:
        """Keep `text` (in SQLite first, then in the index); a memory already kept is not duplicated."""
        wanted = " ".join(text.split()).casefold()
        for existing in self._records.all():
            if " ".join(existing.text.split()).casefold() == wanted:
                return existing
        row = self._records.add(text, kind, turn_id)
        with self._lock:
            self._index([row])
        return row

    def recall(self, query: str, limit: int) -> list[str]:
        """The memories closest in meaning to `query`, closest first."""
        if limit <= 0 or self.count() == 0:
            return []
        vector = self._embedder.embed([query])[0]
        with self._lock:
            found = self._collection.query(
                query_embeddings=[vector.tolist()],
                n_results=min(limit, self._collection.count()),
                include=["documents"],
            )
        return [str(d) for d in (found["documents"] or [[]])[0]]

    def forget_all(self) -> int:
        """Forget every memory (the store's rows, and the index's files rewritten); how many there were."""
        count = self._records.delete_all()
        self.scrub()
        return count

    def scrub(self) -> None:
        """Rewrite the index's files without the memories no longer in the store: nothing of them is left on disk."""
        with self._lock:
            rows = self._records.all()
            try:
                self._client, self._collection = _rewrite(
                    self._dir, self._client, self._collection, {m.id for m in rows}
                )
            except Exception as exc:  # the erased memories must go in any case: start anew from SQLite
                log.warning("memory index could not be copied; rebuilding it", extra=fields(reason=str(exc)[:200]))
                shutil.rmtree(self._dir, ignore_errors=True)
                self._client, self._collection = _connect(self._dir, fresh=True)
            indexed = set(self._collection.get(include=[])["ids"])
            missing = [row for row in rows if row.id not in indexed]
            if missing:
                self._index(missing)
        log.info("memory index rewritten", extra=fields(memories=len(rows)))

    def count(self) -> int:
        """How many memories are indexed."""
        with self._lock:
            return int(self._collection.count())

    def close(self) -> None:
        """Release the index's files."""
        with self._lock:
            self._client.close()


def open_memory(settings: Settings, records: MemoryRepository, cache: _native.Cache | None) -> MemoryStore:
    """Open the memory index (embedding model provisioned first, embeddings cached); raises when it cannot."""
    directory = provision(load_manifest().get(MODEL_NAME), settings.models_dir)
    return MemoryStore(settings.memory_dir, records, MiniLmEmbedder(directory, VectorCache(cache, "embeddings")))
