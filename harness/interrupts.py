"""Ctrl-C and closed pipes, ordinary events: one line (or none), the right exit code.

Standard library only: the CLI handles an interrupt that arrives while it is still
importing torch without importing anything more (a half-imported torch aborts when it is
imported again), and a worker process (audit's pool, harness/corpus/pool.py) runs
`start_worker` first, before it imports torch and namcheck.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)
EXIT_CLOSED_PIPE = 141  # the reader of the output went away (128 + SIGPIPE, as `| head` gives)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what was kept and how to go on (the CLI prints it as one line, exit
    130): e.g. '3 of 38 files audited; 3 results saved in r.jsonl: rerun the same command
    to resume'."""


def stdio_closed() -> bool:
    """Whether stdout or stderr is a pipe whose reader has gone (`namcheck ... | head -1`):
    writing there raises BrokenPipeError, an ordinary end rather than a fault."""
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, ValueError, OSError):
            continue
        poller = select.poll()
        poller.register(fd, 0)  # POLLERR is always reported: the pipe's reader is gone
        if any(event & select.POLLERR for _, event in poller.poll(0)):
            return True
    return False


def quiet_stdio() -> None:
    """Point stdout and stderr at /dev/null, so that the interpreter's last flush into a
    closed pipe prints nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (AttributeError, ValueError, OSError):
            pass
    os.close(devnull)


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """A short step that a Ctrl-C must not cut in two (removing a folder tree, putting
    one back): SIGINT is blocked in this block and, if it came, raised after it. Outside
    the main thread (which alone receives it) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def workers_deaf_to_sigint() -> Iterator[None]:
    """Start worker processes inside this block: they are born with SIGINT blocked (the
    mask survives fork and exec) and stay so, so Ctrl-C, sent to the whole process group,
    reaches the parent alone, which ends them: no worker prints a traceback, whether
    starting Python, importing torch or working. A Ctrl-C that arrives meanwhile is kept
    and raised here as the block ends, never in the middle of starting a process. Where
    SIGINT is ignored (a job started with nohup or `&`), it stays ignored here too."""
    if (not hasattr(signal, "pthread_sigmask")
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):  # nohup, `cmd &`: kept
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()  # started later, it would unblock SIGINT here
    caught: list[int] = []
    handler = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending one arrives: caught
        signal.signal(signal.SIGINT, handler if handler is not None else signal.SIG_DFL)
    if caught:
        raise KeyboardInterrupt


def start_worker(conn: Any, payload: bytes) -> None:
    """A worker process's first code: ignore SIGINT (it is blocked already where the
    worker was started in `workers_deaf_to_sigint`; Ctrl-C is the parent's to handle),
    then run `serve(conn, *args)` from `payload`
    = pickle of (serve, args)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve, args = pickle.loads(payload)
    serve(conn, *args)
