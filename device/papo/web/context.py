"""What every page and API handler of the local web page works with: the daemon's parts, as one dependency."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from litestar.di import NamedDependency

from papo.fleet import FleetLink
from papo.privacy.scrub import Scrubber
from papo.service import VoiceService
from papo.settings import Settings
from papo.store import Store
from papo.web.security.accounts import Accounts
from papo.wiring import Wiring


@dataclass
class WebContext:
    """The daemon's parts the web layer calls (the same ones the CLI uses), given to handlers as `ctx`."""

    settings: Settings
    store: Store
    voice: VoiceService
    scrubber: Scrubber
    link: FleetLink | None
    parts: Wiring
    state_dir: Path
    accounts: Accounts
    companion_wanted: bool = False


Ctx: TypeAlias = NamedDependency[WebContext]
"""The annotation of a handler's `ctx` parameter (Litestar 2.23+ wants injected names marked): `ctx: Ctx`."""
