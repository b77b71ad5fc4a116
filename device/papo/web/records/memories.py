"""Memórias, the JSON API: what Papo remembers about the person; forget one."""

from __future__ import annotations

from litestar import Controller, delete, get
from litestar.params import FromPath

from papo.web.records import actions
from papo.web.records.deps import Ctx
from papo.web.records.errors import OWNER, WITH_ID, not_found
from papo.web.records.models import ErasureOut, MemoryOut
from papo.web.security import owner_required


class MemoriesApi(Controller):
    """`/api/v1/memories`: the same memories as `papo memory list`."""

    path = "/api/v1/memories"
    guards = (owner_required,)
    tags = ("Memórias",)

    @get("/", sync_to_thread=True, raises=OWNER, summary="What Papo remembers, newest first")
    def list_memories(self, ctx: Ctx) -> list[MemoryOut]:
        """Every memory, newest first."""
        return [MemoryOut.of(memory) for memory in reversed(ctx.store.memories.all())]

    @delete("/{memory_id:str}", status_code=200, sync_to_thread=True, raises=WITH_ID, summary="Forget one memory")
    def forget(self, ctx: Ctx, memory_id: FromPath[str]) -> ErasureOut:
        """Forget one memory (`papo memory forget ID`), wiped from the memory index too."""
        erased = actions.forget_memory(ctx, memory_id)
        if erased is None:
            raise not_found("memory", memory_id)
        return erased
