"""The device end of the wire: the outbox publisher, presence, telemetry, desired state and commands."""
