"""Long-term memory: ChromaDB (PersistentClient under the state dir) indexing the store's memory rows."""

from __future__ import annotations

import logging
import shutil
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


class MemoryStore:
    """Remember, recall by meaning and forget; SQLite holds every memory, ChromaDB is a rebuildable index."""

    def __init__(self, directory: Path, records: MemoryRepository, embedder: MiniLmEmbedder) -> None:
        self._dir = directory
        self._records = records
        self._embedder = embedder
        self._collection: Any = None
        self._open()

    def _open(self) -> None:
        try:
            self._collection = self._connect()
            if self._collection.count() != len(self._records.all()):
                self._reindex("the index and the store disagree")
        except Exception as exc:  # a broken index must never block the conversation; rebuild it from SQLite
            log.warning("memory index unusable; rebuilding it", extra=fields(reason=str(exc)[:200]))
            shutil.rmtree(self._dir, ignore_errors=True)
            self._collection = self._connect(fresh=True)
            self._reindex("rebuilt after a failure")

    def _connect(self, fresh: bool = False) -> Any:
        keep_offline()
        import chromadb
        from chromadb.api.shared_system_client import SharedSystemClient
        from chromadb.config import Settings as ChromaSettings

        if fresh:  # chromadb keeps one client per path for the process; drop the broken one
            SharedSystemClient.clear_system_cache()
        self._dir.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(
            path=str(self._dir), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        )
        return client.get_or_create_collection(COLLECTION, embedding_function=None, metadata={"hnsw:space": "cosine"})

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
        self._index([row])
        return row

    def recall(self, query: str, limit: int) -> list[str]:
        """The memories closest in meaning to `query`, closest first."""
        if limit <= 0 or self._collection.count() == 0:
            return []
        vector = self._embedder.embed([query])[0]
        found = self._collection.query(
            query_embeddings=[vector.tolist()], n_results=min(limit, self._collection.count()), include=["documents"]
        )
        return [str(d) for d in (found["documents"] or [[]])[0]]

    def forget(self, memory_id: str) -> bool:
        """Forget one memory everywhere; False if there was none."""
        deleted = self._records.delete(memory_id)
        self._collection.delete(ids=[memory_id])
        return deleted

    def forget_all(self) -> int:
        """Forget every memory; how many there were."""
        count = self._records.delete_all()
        self._reindex("forget all")
        return count

    def count(self) -> int:
        """How many memories are indexed."""
        return int(self._collection.count())


def open_memory(settings: Settings, records: MemoryRepository, cache: _native.Cache | None) -> MemoryStore:
    """Open the memory index (embedding model provisioned first, embeddings cached); raises when it cannot."""
    directory = provision(load_manifest().get(MODEL_NAME), settings.models_dir)
    return MemoryStore(settings.memory_dir, records, MiniLmEmbedder(directory, VectorCache(cache, "embeddings")))
