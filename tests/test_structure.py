"""The package's structure, as a newcomer relies on it: no import cycle between namcheck's
modules (every import statement counts, function-level and TYPE_CHECKING ones included),
models/ and signals/ never import the harness, and the CLI and the pytest plugin start
without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"harness": "namcheck.harness", "models": "namcheck.models",
            "signals": "namcheck.signals"}


def module_files() -> dict[str, Path]:
    """Every module of namcheck by its dotted name."""
    out: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join((package, *parts))] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that `name` starts with (a name inside a module counts as
    an import of that module)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> the namcheck modules its import statements name, from every `import` and
    `from ... import` anywhere in its source (functions and TYPE_CHECKING blocks too)."""
    modules = module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from pkg import sub` imports the submodule sub; `from mod import name`
                # imports mod.
                targets = [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                found = _resolve(target, modules)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_every_kind_of_import() -> None:
    """The graph builder itself: function-level, TYPE_CHECKING and `from pkg import sub`
    imports are edges (else an acyclic verdict would mean nothing)."""
    graph = import_graph()
    assert "namcheck.harness.verify" in graph["namcheck.harness.cli"]  # inside cmd_verify
    assert "namcheck.harness.core" in graph["namcheck.harness"]  # TYPE_CHECKING
    assert "namcheck.harness.checks" in graph["namcheck.harness.verify"]  # from pkg import
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle() -> None:
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_models_and_signals_never_import_the_harness() -> None:
    graph = import_graph()
    wrong = {(a, b) for a, targets in graph.items() for b in targets
             if a.startswith(("namcheck.models", "namcheck.signals"))
             and b.startswith("namcheck.harness")}
    assert not wrong


def test_cli_option_engines_are_the_engines() -> None:
    from namcheck.harness.options import ENGINE_CHOICES
    from namcheck.models.engines import ENGINES

    assert ENGINE_CHOICES == ENGINES


@pytest.mark.parametrize("code", [
    "import namcheck.harness.pytest_plugin, namcheck.harness.cli",
    "from namcheck.harness.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n"
    "    pass",
    "from namcheck.harness.cli import main\ntry:\n    main(['verify', '--help'])\n"
    "except SystemExit:\n    pass",
    *("from namcheck.harness.cli import main\ntry:\n    code = main(" + repr(argv) + ")\n"
      "except SystemExit as exc:\n    code = exc.code\nassert code == 2, code"
      for argv in (["verify", "--bogus"], ["audit", "--workers", "0", "x.nam"],
                   ["audit", "--timeout", "-1", "x.nam"])),
], ids=["import", "version", "help", "unknown_option", "bad_workers", "bad_timeout"])
def test_cli_and_plugin_start_without_torch(code: str) -> None:
    """Installed, the plugin is loaded by every pytest run, and `--version`/`--help` should
    answer at once, and so should an argument error (one line, exit 2): none of them
    imports torch, SciPy or the harness's run machinery (the package inits' exports are
    lazy: models/lazy_exports.py)."""
    check = ("import sys\n" + code + "\nheavy = [m for m in ('torch', 'scipy', "
             "'namcheck.harness.core', 'namcheck.models.engines') if m in sys.modules]\n"
             "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out
