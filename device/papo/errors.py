"""The exception hierarchy of papo: every message says what failed and what to do."""

from __future__ import annotations


class PapoError(Exception):
    """A failure the person can act on; its message is shown as one line."""


class ConfigError(PapoError):
    """The configuration file or a PAPO_* variable holds a value papo cannot use."""


class AudioInputError(PapoError):
    """A recording or an input device cannot be read."""


class NoAudioInputError(AudioInputError):
    """There is no usable audio input device on this machine."""


class ModelError(PapoError):
    """A model is missing, corrupt or not installed."""


class StoreError(PapoError):
    """The on-device store cannot be opened or written."""


class StoreFullError(StoreError):
    """The disk under the store is full: nothing new can be written until space is freed."""
