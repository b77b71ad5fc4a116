"""What Papo may say about its caregiver alerts, from their real state: pure bookkeeping, no threads and no I/O.

One `AlertCase` per high or critical wellbeing event this run recorded, named by the event's id (the msg_id its
alert carries). Each method takes the time (monotonic seconds) and returns the sentences now owed:

- an AlertUpdate (already checked by the fleet gate) → `delivering`: "Estou avisando a sua família."; `delivered`:
  "Avisei {nome}."; `acknowledged`: "{nome} já viu o seu aviso." (and the check-ins stop); `failed` or
  `no_caregivers` with nobody reached: the offline phrase;
- no update within `wait_s` of the event (or no link at all) → the offline phrase;
- while a case is open, not acknowledged and the person has not said «estou bem» → a check-in every `checkin_s`.

Nothing here claims more than the state says: no phrase names a caregiver before a signed update does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from papo.conversation.phrases import (
    ALERT_CHECK_IN,
    ALERT_DELIVERING,
    ALERT_OFFLINE,
    alert_acknowledged,
    alert_delivered,
)
from papo_sync.protocol import AlertState, AlertUpdate

CASE_LIFETIME_S = 24 * 3600.0
"""A case is forgotten this long after its event: no update of its alert can still be valid (signing.py)."""
MAX_ORPHANS = 32
"""Updates kept for an event not (yet) opened here: one may overtake the companion's bookkeeping by a moment."""


@dataclass(frozen=True)
class Say:
    """A sentence owed about one alert; `provisional` ones give way to a later state of the same alert."""

    msg_id: str
    text: str
    kind: str  # which sentence, for the log (which never carries the words): offline, delivered, check-in...
    provisional: bool = False


@dataclass
class AlertCase:
    """One caregiver alert as this device knows it: the last update applied and what was already said."""

    msg_id: str
    opened_at: float
    wait_until: float | None
    next_check_in: float
    seq: int = 0
    state: AlertState | None = None
    reached: bool = False  # a signed `delivered` named somebody
    offline_said: bool = False
    fine: bool = False  # the person said «estou bem»: no more check-ins

    @property
    def checking_in(self) -> bool:
        """Whether Papo keeps asking if the person is all right (open, not acknowledged, not said fine)."""
        return not self.fine and self.state is not AlertState.ACKNOWLEDGED


class AlertCases:
    """The open caregiver alerts of this run and the sentences each one calls for."""

    def __init__(self, language: str, checkin_s: Callable[[], float], wait_s: float) -> None:
        self._language = language
        self._checkin_s = checkin_s
        self._wait_s = wait_s
        self._cases: dict[str, AlertCase] = {}
        self._orphans: OrderedDict[str, AlertUpdate] = OrderedDict()

    def open(self, msg_id: str | None, now: float, offline_said: bool, wait: bool = True) -> list[Say]:
        """A high or critical event was recorded as `msg_id` (None: it could not be stored, so nobody will be told).

        `offline_said`: the offline phrase was already said with the first answer (no link at that moment).
        `wait`: expect the cloud's first word within `wait_s` (the link was up), else say the offline phrase.
        """
        if msg_id is None:
            return [] if offline_said else [Say("", ALERT_OFFLINE[self._language], "offline")]
        waits = wait and not offline_said
        case = AlertCase(msg_id, now, now + self._wait_s if waits else None, now + self._checkin_s())
        case.offline_said = offline_said
        self._cases[msg_id] = case
        early = self._orphans.pop(msg_id, None)
        return [] if early is None else self.update(early, now)

    def update(self, update: AlertUpdate, now: float) -> list[Say]:
        """Apply a signed update (ignored unless newer than the last of its alert); the sentences it calls for."""
        case = self._cases.get(update.msg_id)
        if case is None:
            self._orphan(update)
            return []
        if update.seq <= case.seq:
            return []
        case.seq, case.state, case.wait_until = update.seq, update.state, None
        language = self._language
        if update.state is AlertState.DELIVERING:
            return (
                [] if case.reached else [Say(case.msg_id, ALERT_DELIVERING[language], "delivering", provisional=True)]
            )
        if update.state is AlertState.DELIVERED:
            case.reached = True
            return [Say(case.msg_id, alert_delivered(update.caregiver or "", language), "delivered")]
        if update.state is AlertState.ACKNOWLEDGED:
            return [Say(case.msg_id, alert_acknowledged(update.caregiver, language), "acknowledged")]
        # failed or no_caregivers: true as "nobody can be told now" only while nobody was reached
        if case.reached or case.offline_said:
            return []
        case.offline_said = True
        return [Say(case.msg_id, ALERT_OFFLINE[language], "offline")]

    def due(self, now: float) -> list[Say]:
        """What the clock calls for: the offline phrase when no update came in time, and at most one check-in."""
        owed: list[Say] = []
        for case in list(self._cases.values()):
            if now - case.opened_at > CASE_LIFETIME_S:
                del self._cases[case.msg_id]
                continue
            if case.wait_until is not None and now >= case.wait_until:
                case.wait_until = None
                if not case.offline_said:
                    case.offline_said = True
                    owed.append(Say(case.msg_id, ALERT_OFFLINE[self._language], "offline", provisional=True))
        asking = [case for case in self._cases.values() if case.checking_in and now >= case.next_check_in]
        if asking:
            for case in asking:
                case.next_check_in = now + self._checkin_s()
            owed.append(Say(asking[0].msg_id, ALERT_CHECK_IN[self._language], "check-in", provisional=True))
        return owed

    def fine(self) -> list[str]:
        """The person said «estou bem»: the check-ins end; the msg_ids of the alerts to tell the cloud about."""
        closed = [case for case in self._cases.values() if case.checking_in]
        for case in closed:
            case.fine = True
        return [case.msg_id for case in closed]

    @property
    def checking_in(self) -> bool:
        """Whether some alert is open, unacknowledged and without «estou bem» (so «estou bem» closes something)."""
        return any(case.checking_in for case in self._cases.values())

    def next_due(self) -> float | None:
        """The earliest time `due` may owe something (a wait ending, a check-in), or None."""
        times = [c.wait_until for c in self._cases.values() if c.wait_until is not None]
        times += [c.next_check_in for c in self._cases.values() if c.checking_in]
        return min(times, default=None)

    def case(self, msg_id: str) -> AlertCase | None:
        """The case of an event, if this run opened it (for /health and tests)."""
        return self._cases.get(msg_id)

    def _orphan(self, update: AlertUpdate) -> None:
        """Keep the newest update of an event not opened here (yet), a bounded few."""
        kept = self._orphans.get(update.msg_id)
        if kept is None or update.seq > kept.seq:
            self._orphans[update.msg_id] = update
            self._orphans.move_to_end(update.msg_id)
        while len(self._orphans) > MAX_ORPHANS:
            self._orphans.popitem(last=False)
