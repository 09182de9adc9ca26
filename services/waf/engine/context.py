"""The view of a running transaction that runtime actions (setvar, ctl) get."""

from __future__ import annotations

from typing import Protocol

from services.waf.variables.base import RequestState


class RuleContext(Protocol):
    state: RequestState
    errors: list[str]

    def init_collection(self, name: str, key: str) -> None: ...

    def apply_ctl(self, option: str, value: str, parsed: object) -> None: ...
