"""`papo setup-code` and `papo reset-owner`: claiming the device's web page from its own console."""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from papo.commands.output import say
from papo.errors import PapoError
from papo.settings import Settings

if TYPE_CHECKING:
    from papo.web.security.owner import OwnerFile
    from papo.web.security.setup_code import SetupCodes

# The web layer (Litestar, argon2) is imported by these two commands only, so the other commands start fast.


def _owner_file(settings: Settings) -> OwnerFile:
    from papo.web.security.owner import OwnerFile

    return OwnerFile(settings.state_dir)


def _codes(settings: Settings) -> SetupCodes:
    from papo.web.security.setup_code import SetupCodes

    return SetupCodes(settings.state_dir)


def _page(settings: Settings) -> str:
    from papo.web.security.hosts import mdns_name

    port = "" if settings.server.port == 80 else f":{settings.server.port}"
    return f"http://{mdns_name(settings.device_id)}{port}/configurar"


def _may_change(settings: Settings) -> None:
    """Only root or the user owning the state directory (the service's) may touch the owner account."""
    try:
        owner_uid = settings.state_dir.stat().st_uid
    except OSError as exc:
        raise PapoError(f"cannot read the state directory {settings.state_dir}: {exc.strerror}") from None
    if os.geteuid() not in (0, owner_uid):
        raise PapoError("only root or the companion service's user may do this; run it with sudo")


def setup_code(settings: Settings) -> int:
    """Print a fresh setup code (the one the setup page then asks for); the previous one stops working."""
    _may_change(settings)
    if _owner_file(settings).exists():
        raise PapoError("this device already has an owner; `papo reset-owner` reopens setup")
    try:
        issued = _codes(settings).issue()
    except OSError as exc:
        where = settings.state_dir
        raise PapoError(f"cannot write the setup code in {where}: {exc.strerror}; run it with sudo") from None
    code = issued.code
    say(f"Setup code: {code[:3]} {code[3:6]} {code[6:]}")
    minutes = round((issued.expires_at - time.time()) / 60)
    say(f"It works for {minutes} minutes. Open {_page(settings)} on a phone or computer on the same network")
    say("(or the device's address instead of its name), type the code and choose the owner's password.")
    return 0


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        raise PapoError("removing the owner cannot be undone; run it in a terminal to be asked, or add --yes")
    print("This removes the owner of the web page: every session ends and setup opens again, for whoever comes "
          "first with a new setup code.", file=sys.stderr)  # fmt: skip
    return input('Type "yes" to remove the owner: ').strip().lower() == "yes"


def reset_owner(settings: Settings, yes: bool) -> int:
    """Remove the web page's owner (after asking, unless `yes`), so setup opens again."""
    _may_change(settings)
    owners = _owner_file(settings)
    if not owners.exists():
        say(f"This device has no owner; setup is open at {_page(settings)}")
        return 0
    if not yes and not _confirmed():
        say("Nothing was changed.")
        return 1
    owners.remove()
    _codes(settings).close()
    say(f"The owner was removed; every session has ended. Setup is open again at {_page(settings)}")
    say("Papo says a new setup code when that page is opened (or run `papo setup-code`).")
    return 0
