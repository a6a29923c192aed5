"""Output-scaling hooks: the reference hook, and upstream's hook as a subject under test.

A hook multiplies a WaveNet's `config.head_scale` and `weights[-1]` by `s` and shifts
`metadata.loudness` by the closed form 20*log10(s) (upstream PR #668), leaving `gain`.
The closed form holds only where the output is linear in head_scale: a WaveNet without a
post-stack head. Containers recurse, and their metadata follows the top submodel.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from namcheck.models.format import NamFileError, NamModel, parse_nam, read_nam


class HookRefusedError(ValueError):
    """The hook will not apply: bad scale, or a model whose output it cannot scale exactly.

    `detail` says why (with the JSON path); `source` is the file it concerns, where there
    is one, and then heads the message: 'lstm.nam: the model: LSTM has no head_scale'."""

    def __init__(self, detail: str, source: str | None = None) -> None:
        self.detail, self.source = detail, source
        super().__init__(f"{source}: {detail}" if source else detail)


def closed_form_shift_db(scale: float) -> float:
    """20*log10(scale): the loudness shift in dB that scaling the output by `scale` gives."""
    return 20.0 * math.log10(scale)


def check_scale(scale: float) -> None:
    """Refuse (HookRefusedError) a scale that is not a finite number > 0."""
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(
            scale) or scale <= 0:
        raise HookRefusedError(f"scale must be a finite number > 0, got {scale!r}")


def linearity_obstacle(model: NamModel) -> str | None:
    """Why output is not exactly linear in head_scale, or None where the closed form holds."""
    if model.submodels:
        for i, sub in enumerate(model.submodels):
            reason = linearity_obstacle(sub.model)
            if reason:
                return f"submodel {i} (max_value {sub.max_value}): {reason}"
        return None
    if model.architecture != "WaveNet":
        return f"{model.architecture} has no head_scale to scale"
    if model.has_post_head:
        return "a post-stack (top-level) head applies a nonlinearity after head_scale"
    return None


def _scale_doc(doc: dict[str, Any], scale: float, force: bool, where: str) -> None:
    if doc["architecture"] == "SlimmableContainer":
        subs = doc["config"]["submodels"]
        for i, entry in enumerate(subs):
            _scale_doc(entry["model"], scale, force, f"{where}config.submodels[{i}].model.")
        top = subs[-1]["model"].get("metadata") or {}
        meta = doc.setdefault("metadata", {})
        for key in ("loudness", "gain"):
            if key in top:
                meta[key] = top[key]
        return
    if doc["architecture"] != "WaveNet":
        at = f"{where.rstrip('.')}: " if where else ""
        raise HookRefusedError(f"{at}{doc['architecture']} has no head_scale")
    if doc["config"].get("head") is not None and not force:
        raise HookRefusedError(
            f"{where}config.head: a post-stack head makes the output nonlinear in head_scale; "
            "the closed-form loudness shift would be wrong (use force to scale anyway)")
    doc["config"]["head_scale"] = doc["config"]["head_scale"] * scale
    doc["weights"][-1] = doc["weights"][-1] * scale
    meta = doc.get("metadata")
    if meta and isinstance(meta.get("loudness"), (int, float)):
        meta["loudness"] = meta["loudness"] + closed_form_shift_db(scale)


def scale_output(model: NamModel | dict[str, Any] | str, scale: float, *,
                 force: bool = False) -> NamModel:
    """The reference hook: a new model scaled by `scale`; the input is never changed.

    Refuses (HookRefusedError, nothing changed) a scale <= 0, NaN or Inf; architectures
    without a head_scale (LSTM, Linear, ConvNet, or a container holding one); and a
    post-stack head unless `force` (then the output is scaled but not by exactly `scale`).
    """
    check_scale(scale)
    nam = read_nam(model)
    doc = copy.deepcopy(nam.data)
    try:
        _scale_doc(doc, float(scale), force, "")
    except HookRefusedError as exc:
        raise HookRefusedError(exc.detail, nam.source) from None
    return parse_nam(doc, source=nam.source)


def upstream_available() -> bool:
    """Whether upstream's neural-amp-modeler (the `upstream` extra) imports."""
    try:
        from nam.data import Dataset  # noqa: F401
    except Exception:
        return False
    return True


def changed_paths(before: Any, after: Any, path: str = "", limit: int = 12) -> list[str]:
    """'PATH: before -> after' for each JSON leaf that differs (at most `limit` entries,
    then one 'and N more' line), for reporting what a hook changed."""
    out: list[str] = []
    _diff(before, after, path, out)
    if len(out) > limit:
        out = [*out[:limit], f"... and {len(out) - limit} more"]
    return out


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                out.append(f"{sub}: (absent) -> {_brief(b[key])}")
            elif key not in b:
                out.append(f"{sub}: {_brief(a[key])} -> (removed)")
            else:
                _diff(a[key], b[key], sub, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{i}]", out)
    elif not _same(a, b):
        out.append(f"{path or '(document)'}: {_brief(a)} -> {_brief(b)}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _brief(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"<{type(value).__name__} of {len(value)}>"
    return f"{value:.9g}" if isinstance(value, float) else repr(value)


def upstream_scale_output(model: NamModel | dict[str, Any] | str, scale: float
                          ) -> tuple[NamModel | None, list[str], str | None]:
    """Upstream's `Dataset._ScaleOutputHook(scale).apply()` on a copy of the model's JSON,
    taken as it is: any scale, no guard of ours.

    Returns (hooked model or None, the JSON paths it changed, the problem or None). The
    problem is upstream's exception (after which the dict may be half changed) or what our
    reader says of the result (e.g. a non-finite weight it wrote). Needs the `upstream`
    extra (neural-amp-modeler).
    """
    try:
        from nam.data import Dataset
    except Exception as exc:
        raise HookRefusedError(
            f"upstream hook unavailable: install the 'upstream' extra ({exc})") from None
    nam = read_nam(model)
    doc = copy.deepcopy(nam.data)
    try:
        result = Dataset._ScaleOutputHook(scale=scale).apply(doc)
    except Exception as exc:
        problem = f"upstream's hook raised {type(exc).__name__}: {exc}"
        return None, changed_paths(nam.data, doc), problem
    doc = result if isinstance(result, dict) else doc
    changes = changed_paths(nam.data, doc)
    try:
        return parse_nam(doc, source=nam.source), changes, None
    except NamFileError as exc:
        return None, changes, f"upstream's hook wrote an invalid model: {exc.path}: {exc.message}"
