"""Flow actions: phase, chain, skip, skipAfter.

Example: ``"id:1000300,phase:2,chain"`` then the next SecRule is the chain's second link;
``"id:1000010,phase:1,pass,nolog,skipAfter:END_CORE_CHECKS"`` jumps past ``SecMarker
END_CORE_CHECKS``; ``skip:2`` jumps over the next two rules (a chain counts as one rule, as in
ModSecurity). Phases are 1-5 or the names ModSecurity accepts (request = 2, response = 4,
logging = 5).
"""

from __future__ import annotations

from services.waf.actions.base import Fail, RuleDraft, register

PHASE_NAMES = {"request": 2, "response": 4, "logging": 5}


def parse_phase(value: str, fail: Fail) -> int:
    text = value.strip().lower()
    if text in PHASE_NAMES:
        return PHASE_NAMES[text]
    if text in ("1", "2", "3", "4", "5"):
        return int(text)
    raise fail(f"invalid phase {value!r}; expected 1-5, request, response or logging")


@register("phase", value="required", starter_only=True)
def _phase(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    draft.phase = parse_phase(value, fail)


@register("chain", value="forbidden", default_allowed=False)
def _chain(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.chain = True


@register("skipAfter", value="required", starter_only=True, default_allowed=False)
def _skip_after(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    if not value.strip():
        raise fail("skipAfter needs a SecMarker name or rule id")
    draft.skip_after = value.strip()


@register("skip", value="required", starter_only=True, default_allowed=False)
def _skip(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    text = value.strip()
    if not text.isdigit() or int(text) < 1:
        raise fail(f"skip needs a positive number of rules, got {value!r}")
    draft.skip = int(text)
