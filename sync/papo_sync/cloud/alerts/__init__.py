"""Caregiver alerts: a wellbeing event at or above the tenant's threshold reaches a person (docs/decisions/0016).

policy (who, when, which state), targets (validated caregivers), message (what they are told), signature
(webhook HMAC), email / webhook / ntfy (one attempt each), channels (dispatch), store (PostgreSQL), fine («estou
bem» → "ok" updates, the escalation stopped), updates (signed AlertUpdates to the device), ackpage (the
acknowledgement link), service (`papo-cloud alerts`).
"""
