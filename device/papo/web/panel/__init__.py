"""The panel pages and their JSON API: Início (live status), Ajustes (settings) and Modelos."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from papo.web.panel import ajustes, inicio, modelos

PANEL_HANDLERS: list[ControllerRouterHandler] = [*inicio.HANDLERS, *ajustes.HANDLERS, *modelos.HANDLERS]
