"""The one rule for problems: what is a bad input (exit 2, one line) and the exit codes."""

from __future__ import annotations

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
