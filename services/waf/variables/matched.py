"""MATCHED_VAR and MATCHED_VAR_NAME: the last value a rule (or chain link) matched.

``SecRule ARGS "@rx x" "id:80,chain" / SecRule MATCHED_VAR "@rx y"``: a chained link can inspect
what the previous link matched, after the previous link's transformations (ModSecurity stores the
transformed value).
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register, scalar


@register("MATCHED_VAR", collection=False)
def _matched_var(state: RequestState) -> Pairs:
    return scalar(state.matched_var)


@register("MATCHED_VAR_NAME", collection=False)
def _matched_var_name(state: RequestState) -> Pairs:
    return scalar(state.matched_var_name)
