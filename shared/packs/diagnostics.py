"""Lint findings: one position, one severity, one message; printed the way compilers print them.

``rules/waf/core/sqli.conf:14:32: error: duplicate rule id 1001110 (first defined at ...)`` is
what editors, CI logs and ``grep`` understand without a plugin.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    file: str
    line: int
    column: int
    severity: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.code}]"


def summary(diagnostics: list[Diagnostic]) -> str:
    counts = {s: sum(1 for d in diagnostics if d.severity == s) for s in SEVERITIES}
    return f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s)"


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)
