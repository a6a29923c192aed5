#!/usr/bin/env python3
"""A NAM runtime stand-in for the `namcheck conform` tests: namcheck's own reference behind
a render-like command line (float32; streaming in blocks when given --block, or where the
planted fault is in the prewarm; offline otherwise), with at most one planted fault.

    standin.py [--fault NAME] [--slim V] [--block N] MODEL.nam IN.wav OUT.wav

Exit 1 with a message when the file is refused (namcheck's reader refuses it, or a fault
refuses it); a float32 WAV at the input's rate otherwise.

With NAMCHECK_STANDIN_SOCKET set, this script only forwards its arguments to a server in
the test process (`serve`), which does the work with one torch import for every case; the
command line, the files, the exit status (and a crash's signal) are the same.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

FAULTS = {
    "none": "no fault: namcheck's reference",
    "linear_taps_reversed": "Linear applies h[0] to the oldest sample",
    "hardtanh_unbounded": "Hardtanh ignores its bounds (identity)",
    "film_shift_dropped": "a FiLM with shift applies the scale only",
    "prewarm_short": "feed-forward prewarm of R - 2 zeros (in whole blocks) instead of R - 1",
    "slim_boundary": "a container picks the first submodel with max_value >= v (not >)",
    "late_by_one": "the output is one sample late",
    "level_0p1db": "the output is 0.1 dB too loud",
    "refuse_crlf": "refuses files with CRLF line ends",
    "crash_grouped": "crashes (SIGSEGV) on a grouped dilated conv (groups_input > 1)",
}
DEFAULT_BLOCK = 64
SOCKET_ENV = "NAMCHECK_STANDIN_SOCKET"
PATCHING = ("hardtanh_unbounded", "film_shift_dropped")
_LOCK = threading.Lock()  # these faults patch module globals: one render at a time
# In the server, outputs of the fault-free forward are shared between faults that do not
# change it (`_changes_forward`): one forward per case and input for the whole test run.
_CACHE: dict[tuple[Any, ...], Any] = {}
_SHARED = False


def render(argv: list[str]) -> tuple[int, str, bool]:
    """Run one command line: (exit status, message for stderr, crash?)."""
    import argparse

    parser = argparse.ArgumentParser(prog="standin")
    parser.add_argument("--fault", default="none", choices=sorted(FAULTS))
    parser.add_argument("--slim", type=float)
    parser.add_argument("--block", type=int)
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("output")
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return 2, "standin: bad arguments", False
    if args.fault in PATCHING:
        with _LOCK:
            return _render(args)
    return _render(args)


def _render(args: Any) -> tuple[int, str, bool]:
    import numpy as np
    import soundfile as sf
    import torch

    from namcheck.models import NamFileError, read_nam

    fault = args.fault
    raw = Path(args.model).read_bytes()
    if fault == "refuse_crlf" and b"\r\n" in raw:
        return 1, "standin: cannot parse the model file (unexpected carriage return)", False
    try:
        model = read_nam(args.model)
    except NamFileError as exc:
        return 1, f"standin: {exc}", False
    doc = model.to_dict()
    if fault == "crash_grouped" and _any(doc, _grouped):
        return 0, "", True
    x, rate = sf.read(args.input, dtype="float32")
    if model.sample_rate is not None and abs(rate - model.sample_rate) > 0.5:
        return 1, f"standin: input at {rate} Hz, the model expects {model.sample_rate:g}", False
    block = args.block or DEFAULT_BLOCK
    forward_fault = fault if _changes_forward(fault, model, doc, args.slim, block) else "none"
    key = (hashlib.sha256(raw).hexdigest(), hashlib.sha256(x.tobytes()).hexdigest(),
           args.slim, block, forward_fault)
    y = _CACHE.get(key)
    if y is None:
        if forward_fault == "linear_taps_reversed":
            _walk(doc, _reverse_taps)
            model = read_nam(doc)
        with _patched(forward_fault):
            net = _build(model, args.slim, block, forward_fault)
            streamed = args.block is not None or forward_fault == "prewarm_short"
            y = _stream(net, torch.from_numpy(np.asarray(x, dtype=np.float32)),
                        block if streamed else None, forward_fault).astype(np.float64)
        if _SHARED:
            _CACHE[key] = y
    if fault == "late_by_one":
        y = np.concatenate([[0.0], y[:-1]])
    if fault == "level_0p1db":
        y = y * 10 ** (0.1 / 20)
    sf.write(args.output, y.astype(np.float32), rate, subtype="FLOAT")
    return 0, f"standin: wrote {y.size} samples", False


def _changes_forward(fault: str, model: Any, doc: dict[str, Any], slim: float | None,
                     block: int) -> bool:
    """Whether `fault` can change this model's forward (else the fault-free output, cached
    in the server, is the answer)."""
    if fault == "linear_taps_reversed":
        return _any(doc, _is_linear)
    if fault == "hardtanh_unbounded":
        return '"Hardtanh"' in json.dumps(doc)
    if fault == "film_shift_dropped":
        return "_film" in json.dumps(doc)
    if fault == "prewarm_short":
        r = model.receptive_field
        return bool(model.submodels) or (r >= 2 and (r - 2) % block == 0)
    if fault == "slim_boundary":
        return bool(model.submodels) and slim is not None
    return False


def _build(model: Any, slim: float | None, block: int, fault: str) -> Any:
    import torch

    from namcheck.models import load
    from namcheck.models.slimming import select_submodel

    if fault == "slim_boundary" and model.submodels and slim is not None:
        right = select_submodel(model, slim)
        wrong = next((i for i, s in enumerate(model.submodels) if s.max_value >= slim), right)
        return load(model.submodels[wrong].model, dtype=torch.float32, buffer_size=block)
    return load(model, dtype=torch.float32, slim=slim, buffer_size=block)


def _stream(net: Any, x: Any, block: int | None, fault: str) -> Any:
    """The output in blocks of `block` samples, state carried, as a plugin streams (None:
    offline, all at once)."""
    import math

    import torch

    pieces = []
    if block is None:  # offline: the reference's zero history (what a prewarm gives)
        with torch.no_grad():
            return net(x).detach().numpy()
    if fault == "prewarm_short" and not net.stateful:
        state: dict[int, torch.Tensor] = {}
        short = max(net.receptive_field - 2, 0)
        zeros = torch.zeros(1, 1, math.ceil(short / block) * block, dtype=torch.float32)
        with torch.no_grad():
            if zeros.shape[-1]:
                net.forward_valid(zeros, state)
            for i in range(0, x.shape[-1], block):
                pieces.append(net.forward_valid(x[None, None, i:i + block], state)[0, 0])
    else:
        stream = net.stream()
        for i in range(0, x.shape[-1], block):
            pieces.append(stream.process(x[i:i + block]))
    return torch.cat(pieces).detach().numpy()


@contextlib.contextmanager
def _patched(fault: str) -> Any:
    """Plant a fault in namcheck's modules for the duration of one render."""
    try:  # where the reference forward lives (namcheck.models.reference, or models itself)
        from namcheck.models.reference import feedforward, wavenet  # type: ignore[import-not-found]
    except ImportError:
        from namcheck.models import feedforward, wavenet

    saved: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    if fault == "hardtanh_unbounded":
        for module in (wavenet, feedforward):
            original = module.make_activation
            patch(module, "make_activation",
                  lambda spec, _o=original: (lambda x: x) if spec.name == "Hardtanh"
                  else _o(spec))
    if fault == "film_shift_dropped":
        def scale_only(self: Any, x: Any, c: Any) -> Any:
            return x * self.conv(c)[:, : self.dim]

        patch(wavenet.FiLM, "forward", scale_only)
    try:
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _walk(doc: Any, visit: Any) -> None:
    """Call visit(model_object) on a model document and every model nested in it."""
    visit(doc)
    config = doc.get("config") or {}
    if isinstance(config.get("condition_dsp"), dict):
        _walk(config["condition_dsp"], visit)
    for sub in config.get("submodels") or []:
        _walk(sub["model"], visit)


def _any(doc: Any, test: Any) -> bool:
    found: list[bool] = []
    _walk(doc, lambda d: found.append(bool(test(d))))
    return any(found)


def _is_linear(doc: dict[str, Any]) -> bool:
    return doc.get("architecture") == "Linear"


def _grouped(doc: dict[str, Any]) -> bool:
    layers = doc.get("config", {}).get("layers") if doc.get("architecture") == "WaveNet" else []
    return any((a.get("groups_input") or 1) > 1 for a in layers or [])


def _reverse_taps(doc: dict[str, Any]) -> None:
    if _is_linear(doc):
        r = doc["config"]["receptive_field"]
        doc["weights"][:r] = doc["weights"][:r][::-1]


# --------------------------------------------------------------------------- server


def serve(path: str) -> Any:
    """A server on Unix socket `path` running `render` for clients (a daemon thread);
    returns it (call .shutdown() to stop)."""
    import socketserver

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request = json.loads(self.rfile.readline())
            old = os.getcwd()
            try:
                code, message, crash = render(request["argv"])
            except Exception as exc:  # a bug in the stand-in: a plain error exit
                code, message, crash = 3, f"standin: {type(exc).__name__}: {exc}", False
            finally:
                os.chdir(old)
            reply = {"code": code, "message": message, "crash": crash}
            self.wfile.write((json.dumps(reply) + "\n").encode())

    global _SHARED
    _SHARED = True
    server = socketserver.ThreadingUnixStreamServer(path, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _client(path: str, argv: list[str]) -> tuple[int, str, bool]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall((json.dumps({"argv": argv}) + "\n").encode())
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    return reply["code"], reply["message"], reply["crash"]


def main() -> None:
    argv = sys.argv[1:]
    server = os.environ.get(SOCKET_ENV)
    code, message, crash = _client(server, argv) if server else render(argv)
    if message:
        print(message, file=sys.stderr)
    if crash:
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    sys.exit(code)


if __name__ == "__main__":
    main()
