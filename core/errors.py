"""The project's errors. Every error a user can cause (a bad option, config, data dir, file, value)
derives from GfaError, so that an entry point's tail catches GfaError and OSError only and prints
``<tool>: error: <message>``; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys


class GfaError(Exception):
    """Base of every user-facing error of gfa-sv."""


class ConfigError(GfaError, ValueError):
    """A config names an unknown model/loss or argument, or a value out of its range; the message lists
    the valid ones."""


class UsageError(GfaError, ValueError):
    """A value the user gave (an argument, an option, an input array or file's content) is not valid."""


class NonFiniteError(GfaError, FloatingPointError):
    """A computation on the user's inputs gave NaN or infinity (the message says where)."""


CLI_ERRORS = (GfaError, OSError)  # what an entry point's tail catches


def fail(tool: str, e: BaseException) -> int:
    """The one CLI tail: print ``<tool>: error: <message>`` on stderr and return exit status 1."""
    print(f"{tool}: error: {e}", file=sys.stderr)
    return 1


class NotFoundError(GfaError, KeyError):
    """A named item (an utterance, a prior section) is not where the user pointed."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return str(self.args[0]) if self.args else ""
