"""namcheck.harness: hooks, checks and the commands, as Python functions.

    from namcheck.harness import verify, Options
    report = verify("amp.nam", scales=[0.5])
    report.status, [c.name for c in report.checks if c.passed is False]
"""

from namcheck.harness.api import audit, compare, default_signal, stamp, verify
from namcheck.harness.checks import CheckResult
from namcheck.harness.hooks import scale_output, upstream_scale_output
from namcheck.harness.verify import ModelReport, Options, Signal

__all__ = [
    "CheckResult",
    "ModelReport",
    "Options",
    "Signal",
    "audit",
    "compare",
    "default_signal",
    "scale_output",
    "stamp",
    "upstream_scale_output",
    "verify",
]
