"""Operating-system integration: logging for journald and (later) sd_notify."""
