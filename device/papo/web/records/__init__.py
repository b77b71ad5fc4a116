"""The records pages and their JSON API: Conversas, Memórias, Lembretes, Bem-estar."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from papo.web.records.conversations import ConversationsApi
from papo.web.records.conversations_page import ConversationsPage
from papo.web.records.memories import MemoriesApi
from papo.web.records.memories_page import MemoriesPage
from papo.web.records.reminders import RemindersApi
from papo.web.records.reminders_page import RemindersPage
from papo.web.records.wellbeing import WellbeingApi
from papo.web.records.wellbeing_page import WellbeingPage

RECORD_HANDLERS: list[ControllerRouterHandler] = [
    ConversationsApi, MemoriesApi, RemindersApi, WellbeingApi,
    ConversationsPage, MemoriesPage, RemindersPage, WellbeingPage,
]  # fmt: skip
