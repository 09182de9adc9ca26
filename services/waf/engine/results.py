"""What a transaction reports: rule matches and the intervention (if any)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class MatchedRule:
    """One rule (or whole chain) that matched; severity is ModSecurity's 0-7 (0 = EMERGENCY).

    Not frozen on purpose: CRS records about two hundred matches per request (its paranoia-level
    gates are rules too) and a frozen dataclass pays ``object.__setattr__`` for every field. The
    engine never changes a MatchedRule after appending it; readers must not either."""

    id: int
    msg: str | None
    severity: int | None
    tags: tuple[str, ...]
    phase: int
    matched_var: str  # MATCHED_VAR_NAME, e.g. ARGS:q
    matched_data: str  # MATCHED_VAR (transformed value), truncated
    logdata: str | None
    disruptive: bool  # the rule's action would interrupt (deny/drop/redirect), enforced or not
    log: bool
    action: str = "pass"


@dataclass(frozen=True, slots=True)
class Intervention:
    """What the proxy must do instead of forwarding: answer ``status`` or drop the connection.

    ``action`` is ``deny``, ``drop`` or ``redirect`` (then ``url`` is set); ``rule_id`` is 0 for
    engine-level decisions such as an over-limit request body.
    """

    status: int
    rule_id: int
    action: str
    msg: str | None
    url: str | None = None
