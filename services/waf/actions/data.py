"""Actions that shape matching: t (transformations), capture, multiMatch.

Example: ``"id:1000200,phase:2,t:none,t:urlDecodeUni,t:htmlEntityDecode,capture,..."``.
``t:none`` drops the transformations before it, including those inherited from SecDefaultAction.
``multiMatch`` runs the operator after every transformation step (and on the untransformed value)
instead of once at the end, as ModSecurity does.
"""

from __future__ import annotations

from services.waf.actions.base import Fail, RuleDraft, register
from services.waf.transformations import TRANSFORMATIONS, lookup


@register("t", value="required")
def _t(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    assert value is not None
    definition = lookup(value.strip())
    if definition is None:
        names = ", ".join(sorted(d.name for d in TRANSFORMATIONS.values()))
        raise fail(f"unknown transformation {value.strip()!r}; expected one of {names}")
    if definition.name == "none":
        draft.transforms.clear()
        draft.transforms_reset = True
    else:
        draft.transforms.append(definition.name)


@register("capture", value="forbidden")
def _capture(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.capture = True


@register("multiMatch", value="forbidden")
def _multi_match(draft: RuleDraft, value: str | None, fail: Fail) -> None:
    draft.multi_match = True
