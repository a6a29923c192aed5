"""The `.nam` format package's shape: no import cycle inside it (function-level imports
included), nothing imported from outside the format but atomic writes, the public names,
and the weight layout computed once per parsed model."""

from __future__ import annotations

import ast
from pathlib import Path

import namcheck.models as models
from conftest import ROOT
from namcheck.models.examples import builtin_doc

FORMAT = ROOT / "models" / "format"
ALLOWED_OUTSIDE = {"namcheck.models.atomic", "namcheck.models.tolerances"}


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT / "models").with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(["namcheck", "models", *parts])


def _imports() -> dict[str, set[str]]:
    modules = {_module(p): p for p in FORMAT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m.startswith("namcheck.")}
    return graph


def test_no_import_cycle_in_the_format_package() -> None:
    graph = _imports()
    internal = {n: {m for m in deps if m in graph and m != n} for n, deps in graph.items()}
    # Importing a package imports its __init__: a module may import its siblings, but no
    # chain of imports may lead back to itself.
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in internal[node]:
            if state.get(dep) == 1:
                raise AssertionError(" -> ".join([*trail, node, dep]))
            if dep not in state:
                visit(dep, [*trail, node])
        state[node] = 2

    for node in internal:
        if node not in state:
            visit(node, [])


def test_format_imports_nothing_outside_it_but_atomic_writes() -> None:
    for name, deps in _imports().items():
        outside = {d for d in deps if not d.startswith("namcheck.models.format")}
        assert all(d.rsplit(".", 1)[0] in ALLOWED_OUTSIDE or d in ALLOWED_OUTSIDE
                   for d in outside), (name, outside)


def test_public_names() -> None:
    for name in ("read_nam", "write_nam", "NamModel", "NamFileError", "NamWarning"):
        assert hasattr(models, name)


def test_layout_is_computed_once_per_model() -> None:
    model = models.read_nam(builtin_doc())
    assert model.layout is model.layout
    assert model.expected_weight_count == len(builtin_doc()["weights"])
