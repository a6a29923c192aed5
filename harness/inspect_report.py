"""`namcheck inspect`: the facts of one `.nam` file, as a dict and as text."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from namcheck.harness.divergence import UPSTREAM_UNREADABLE, runtime_divergences
from namcheck.harness.errors import BAD_INPUT_ERRORS, EXIT_BAD_INPUT, EXIT_OK
from namcheck.models.examples import builtin_model
from namcheck.models.format import NamModel, read_nam
from namcheck.models.identity import content_hash


def inspect_files(paths: list[Path], as_json: bool = False) -> int:
    """Validate and describe each file (none: the built-in model), warnings included
    (features the runtime and upstream's PyTorch play differently) and whether upstream's
    .nam loader fails on it (`upstream_loader`: "fails: " and the JSON paths and causes,
    harness/divergence.py's UPSTREAM_UNREADABLE; None where no cause is known); a bad
    file is one line on stderr and an entry, and the rest are still described. Prints
    text, or one JSON list; returns the exit code (2 if a file was bad)."""
    infos: list[dict[str, Any]] = []
    code = EXIT_OK
    for path in paths or [None]:
        try:
            model = read_nam(path) if path else builtin_model()
        except BAD_INPUT_ERRORS as exc:
            code = EXIT_BAD_INPUT
            infos.append({"path": str(path), "error": str(exc)})
            print(f"namcheck: {exc}", file=sys.stderr)
            continue
        info = describe(model)
        found = runtime_divergences(model)
        # a fact, not a warning: most files in the wild are 0.5 files upstream cannot read
        unread: dict[str, list[str]] = {}  # message -> its JSON paths, each cause once
        for d in found:
            if d.cause in UPSTREAM_UNREADABLE:
                unread.setdefault(d.message, []).append(d.path)
        info["upstream_loader"] = "fails: " + "; ".join(
            f"{', '.join(paths)}: {message}" for message, paths in unread.items()
        ) if unread else None
        info["warnings"] += [str(d) for d in found if d.plays_differently]
        infos.append(info)
        if not as_json:
            print(f"== {model.source}")
            print(format_text(info))
    if as_json:
        print(json.dumps(infos, indent=2))
    return code


def describe(model: NamModel) -> dict[str, Any]:
    """Architecture, version, rate, sizes, head_scale (config and tail), level metadata."""
    info: dict[str, Any] = {
        "path": model.source,
        "architecture": model.architecture,
        "version": ".".join(map(str, model.version)),
        "sample_rate": model.sample_rate,
        # the runtime's GetExpectedSampleRate: the file's number, -1 without one (a rate
        # <= 0 is "unknown": played at the host's rate)
        "expected_sample_rate": model.expected_sample_rate,
        "parameters": model.parameter_count,
        "receptive_field": model.receptive_field,
        "content_hash": content_hash(model),
        "loudness": model.loudness,
        "gain": model.gain,
        "input_level_dbu": model.metadata.get("input_level_dbu"),
        "output_level_dbu": model.metadata.get("output_level_dbu"),
    }
    if model.head_scale is not None:
        info["head_scale_config"] = model.head_scale_config
        info["head_scale_weights_tail"] = model.head_scale
        info["post_stack_head"] = model.has_post_head
    if model.condition_dsp is not None:
        info["condition_dsp"] = describe(model.condition_dsp)
    if model.submodels:
        info["submodels"] = [
            {"max_value": s.max_value, **describe(s.model)} for s in model.submodels
        ]
    info["warnings"] = [str(w) for w in model.warnings]
    return info


def format_text(info: dict[str, Any], indent: str = "") -> str:
    """describe()'s facts as indented text lines."""
    skip = {"submodels", "condition_dsp", "warnings", "path"}
    width = max(len(k) for k in info)
    lines = [f"{indent}{k:<{width}}  {_fmt(v)}" for k, v in info.items() if k not in skip]
    if "condition_dsp" in info:
        lines.append(f"{indent}condition_dsp:")
        lines.append(format_text(info["condition_dsp"], indent + "    "))
    for i, sub in enumerate(info.get("submodels", [])):
        lines.append(f"{indent}submodel {i} (max_value {sub['max_value']}):")
        lines.append(format_text({k: v for k, v in sub.items() if k != "max_value"},
                                 indent + "    "))
    if indent == "":
        lines.extend(f"warning: {w}" for w in info["warnings"])
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)  # JSON's words: true, false, [1, 2]
    except (TypeError, ValueError):
        return str(value)
