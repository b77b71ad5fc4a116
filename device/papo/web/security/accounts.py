"""Everything that decides who may use the page: the owner, the setup code and the rate limits on guessing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from papo.web.security.attempts import Attempts
from papo.web.security.owner import OwnerFile
from papo.web.security.setup_code import SetupCodes

WRONG_TRIES = 5  # wrong setup codes or passwords per address within a minute; then 429
WINDOW_S = 60.0
REAUTH_S = 300.0  # the password re-entered this recently allows erase-all, export, owner change, factory reset
IDLE_S = 12 * 3600  # a session unused this long ends


@dataclass
class Accounts:
    """The owner record, the setup code and the failure counters of one state directory."""

    state_dir: Path
    owners: OwnerFile = field(init=False)
    codes: SetupCodes = field(init=False)
    setup_tries: Attempts = field(default_factory=lambda: Attempts(WRONG_TRIES, WINDOW_S, overall_limit=WRONG_TRIES))
    login_tries: Attempts = field(default_factory=lambda: Attempts(WRONG_TRIES, WINDOW_S, overall_limit=50))

    def __post_init__(self) -> None:
        self.owners = OwnerFile(self.state_dir)
        self.codes = SetupCodes(self.state_dir)

    @property
    def claimed(self) -> bool:
        """Whether an owner exists (setup is closed)."""
        return self.owners.exists()
