"""The one rule for problems: what is a bad input (exit 2, one line) and the exit codes
(Ctrl-C and a closed pipe: harness/interrupts.py)."""

from __future__ import annotations

from namcheck.harness.interrupts import EXIT_CLOSED_PIPE, EXIT_INTERRUPTED, Interrupted
from namcheck.models.atomic import OutputError
from namcheck.models.format import NamFileError
from namcheck.signals.wav import SignalError

# Exit codes of every command (README "Exit codes").
EXIT_OK = 0  # every model passed
EXIT_FAILED = 1  # a check failed
EXIT_BAD_INPUT = 2  # a bad file, signal, argument, path, permission or environment
EXIT_NOT_VERIFIED = 3  # nothing failed, but some model had no check that could apply
EXIT_INTERNAL = 4  # a bug in namcheck (one line; NAMCHECK_DEBUG=1 shows the traceback)


class BadInputError(ValueError):
    """A bad argument, path or environment: reported as one line on stderr, exit 2."""


# Everything that means "the input is bad", whichever module found it.
BAD_INPUT_ERRORS: tuple[type[Exception], ...] = (
    BadInputError, NamFileError, SignalError, OutputError,
)


__all__ = ["BAD_INPUT_ERRORS", "EXIT_BAD_INPUT", "EXIT_CLOSED_PIPE", "EXIT_FAILED",
           "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_NOT_VERIFIED", "EXIT_OK", "BadInputError",
           "Interrupted"]
