"""Every property of the report's JSON Schema says what it is: `namcheck schema` is the
reference a report reader has, so a field without a description is a defect."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from namcheck.harness.schema import json_schema


def undescribed(schema: dict[str, Any]) -> list[str]:
    """'Model.property' for every property of the schema's root and of each of its $defs
    that has no (or an empty) description."""
    models = {schema.get("title", "<root>"): schema, **schema.get("$defs", {})}
    return [f"{name}.{prop}" for name, model in models.items()
            for prop, spec in model.get("properties", {}).items()
            if not str(spec.get("description", "")).strip()]


def test_every_property_of_the_printed_schema_has_a_description() -> None:
    proc = subprocess.run([sys.executable, "-m", "namcheck.harness.cli", "schema"],
                          capture_output=True, text=True, check=True)
    printed = json.loads(proc.stdout)
    assert printed == json_schema()
    assert len(printed["$defs"]) >= 10  # the walk sees the nested models, not just Report
    assert undescribed(printed) == []


def test_the_walk_finds_a_missing_description() -> None:
    schema = {"title": "Report", "properties": {"a": {"type": "string", "description": "x"},
                                                 "b": {"type": "integer"}},
              "$defs": {"Level": {"properties": {"c": {"description": " "}}}}}
    assert undescribed(schema) == ["Report.b", "Level.c"]


def test_the_readme_report_shape_names_every_field() -> None:
    """README's 'JSON reports' block lists every property of the schema (the shape a
    reader compares a report with)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### JSON reports", 1)[1]
    block = section.split("```", 2)[1]
    words = set(re.findall(r"[a-z_0-9]+", block))
    schema = json_schema()
    models = {"Report": schema, **schema["$defs"]}
    missing = sorted({prop for model in models.values() for prop in model.get("properties", {})
                      if prop not in words})
    assert missing == []
