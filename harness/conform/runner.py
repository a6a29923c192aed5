"""Running a runtime through a command template, one case at a time.

The template is split like a shell command line (`shlex`), but no shell runs: each word
has `{model}`, `{input}` and `{output}` replaced by the case's paths, so paths with spaces
or quotes stay one argument. A case with a slim value gets the `--slim-arg` words (with
`{slim}` replaced), one with a block size the `--block-arg` words (`{block}`); they go
where the template says `{args}`, else just before the first word holding `{model}`
(`render {model} ...` becomes `render --slim 0.5 MODEL ...`). Use a wrapper script for
anything a shell would do.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PLACEHOLDERS = ("{model}", "{input}", "{output}")
# How much of the runtime's stdout/stderr a verdict keeps as evidence.
TAIL_CHARS = 600


class TemplateError(ValueError):
    """A template that cannot run a case (one line naming the option)."""


@dataclass(frozen=True)
class Template:
    """The runtime's command line and its optional slim and block arguments."""

    runtime: tuple[str, ...]
    slim_arg: tuple[str, ...] | None = None
    block_arg: tuple[str, ...] | None = None
    text: str = ""

    @classmethod
    def parse(cls, runtime: str, slim_arg: str | None = None, block_arg: str | None = None,
              check_program: bool = True) -> Template:
        """Split and check the templates; TemplateError names the option at fault."""
        words = _split("--runtime", runtime)
        for p in PLACEHOLDERS:
            if not any(p in w for w in words):
                raise TemplateError(f"--runtime {runtime!r}: no {p} (the template needs "
                                    "{model}, {input} and {output})")
        slim = _split("--slim-arg", slim_arg) if slim_arg is not None else None
        if slim is not None and not any("{slim}" in w for w in slim):
            raise TemplateError(f"--slim-arg {slim_arg!r}: no {{slim}}")
        block = _split("--block-arg", block_arg) if block_arg is not None else None
        if block is not None and not any("{block}" in w for w in block):
            raise TemplateError(f"--block-arg {block_arg!r}: no {{block}}")
        if check_program:
            program = words[0]
            found = shutil.which(program) if os.sep not in program else (
                program if os.access(program, os.X_OK) and Path(program).is_file() else None)
            if found is None:
                raise TemplateError(f"--runtime: {program}: no such executable (give a path, "
                                    "or a program on PATH)")
        return cls(tuple(words), slim, block, runtime)

    def skip_reason(self, slim: float | None, block: int | None) -> str | None:
        """Why this template cannot express a case (None: it can)."""
        if slim is not None and self.slim_arg is None:
            return "needs a slim value: the template has no --slim-arg"
        if block is not None and self.block_arg is None:
            return "needs a block size: the template has no --block-arg"
        return None

    def argv(self, model: Path, input: Path, output: Path, slim: float | None = None,
             block: int | None = None) -> list[str]:
        """The command for one case (slim given as repr: parses back to the same double)."""
        extra: list[str] = []
        if slim is not None:
            assert self.slim_arg is not None
            extra += [w.replace("{slim}", repr(float(slim))) for w in self.slim_arg]
        if block is not None:
            assert self.block_arg is not None
            extra += [w.replace("{block}", str(block)) for w in self.block_arg]
        values = {"{model}": str(model), "{input}": str(input), "{output}": str(output)}
        out: list[str] = []
        placed = False
        for word in self.runtime:
            if word == "{args}":
                out += extra
                placed = True
                continue
            if not placed and "{model}" in word and "{args}" not in self.runtime:
                out += extra
                placed = True
            for key, value in values.items():
                word = word.replace(key, value)
            out.append(word)
        return out


def _split(option: str, text: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise TemplateError(f"{option} {text!r}: {exc}") from None
    if not words:
        raise TemplateError(f"{option}: empty")
    return words


@dataclass
class RunResult:
    """How the runtime's process ended: `returncode` (negative: killed by that signal;
    None when it timed out), `seconds`, and the tail of its output."""

    argv: list[str]
    returncode: int | None
    timed_out: bool
    seconds: float
    output_tail: str

    def signal_name(self) -> str | None:
        """The signal that ended the process (also a shell's 128+N for a crash signal)."""
        rc = self.returncode
        if rc is None:
            return None
        if rc < 0:
            number = -rc
        elif rc - 128 in CRASH_SIGNALS:
            number = rc - 128
        else:
            return None
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"


CRASH_SIGNALS = {int(s) for s in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
                                  signal.SIGKILL, signal.SIGABRT)}


class Running:
    """The runtime processes one suite is running now. Each runs in its own session, so a
    Ctrl-C at the terminal never reaches it: stop() kills them all, and every process
    started after it, so that no runtime outlives an interrupted suite."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._stopped = False

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            procs = list(self._procs)
        for proc in procs:
            _kill_group(proc)

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)
            stopped = self._stopped
        if stopped:
            _kill_group(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)


def run(argv: list[str], timeout: float, cwd: Path, running: Running | None = None
        ) -> RunResult:
    """Run one command in `cwd` (stdin closed) in its own process group, killed with its
    children when it runs past `timeout` seconds, or when `running` is stopped."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as exc:
        return RunResult(argv, 127, False, 0.0, f"cannot start: {exc.strerror or exc}")
    if running is not None:
        running.add(proc)
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        timed_out = True
    finally:
        if running is not None:
            running.discard(proc)
    text = out.decode("utf-8", errors="replace")
    tail = text[-TAIL_CHARS:].strip()
    return RunResult(argv, None if timed_out else proc.returncode, timed_out,
                     time.monotonic() - start, tail)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
