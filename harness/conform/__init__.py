"""`namcheck conform`: a conformance suite that tells a NAM runtime, feature by feature,
where it plays a `.nam` file differently from what the format defines.

- `suite.py`: the cases (one feature each) and the selection by feature or name;
- `generate.py`, `inputs.py`: the seeded model documents and input signals;
- `expected.py`: each case on disk and what a conforming runtime does with it (namcheck's
  reader and float64 reference, the derived float32 bound);
- `runner.py`: the command template and running a runtime on one case;
- `verdict.py`: pass / differs / refused / crash / skipped, with evidence and cause;
- `run.py`: the whole suite in parallel; `matrix.py`, `schema.py`, `plot.py`: reports;
- `command.py`: the command itself.
"""

from namcheck.harness.conform.command import (
    ConformOptions,
    default_jobs,
    list_suite,
    run_conform,
    validate,
)
from namcheck.harness.conform.run import CaseResult, run_suite
from namcheck.harness.conform.runner import Template
from namcheck.harness.conform.suite import Case, build_cases, select

__all__ = ["Case", "CaseResult", "ConformOptions", "Template", "build_cases", "default_jobs",
           "list_suite", "run_conform", "run_suite", "select", "validate"]
