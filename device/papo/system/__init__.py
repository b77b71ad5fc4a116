"""Operating-system integration: journald logging with fields, sd_notify start-up reports and the watchdog."""
