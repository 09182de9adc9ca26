"""MATCHED_VAR and MATCHED_VAR_NAME: the last value a rule (or chain link) matched.

``SecRule ARGS "@rx x" "id:80,chain" / SecRule MATCHED_VAR "@rx y"``: a chained link can inspect
what the previous link matched, after the previous link's transformations (ModSecurity stores the
transformed value). MATCHED_VARS / MATCHED_VARS_NAMES hold every (name, value) the current rule
matched, across the links of its chain; they are reset when the next rule starts, as in
ModSecurity, so a chained ``SecRule MATCHED_VARS "@rx ..."`` re-inspects only what the previous
links found.
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register, scalar


@register("MATCHED_VAR", collection=False)
def _matched_var(state: RequestState) -> Pairs:
    return scalar(state.matched_var)


@register("MATCHED_VAR_NAME", collection=False)
def _matched_var_name(state: RequestState) -> Pairs:
    return scalar(state.matched_var_name)


@register("MATCHED_VARS", collection=True, doc="every value the current rule (and chain) matched so far")
def _matched_vars(state: RequestState) -> Pairs:
    return list(state.matched_vars)


@register("MATCHED_VARS_NAMES", collection=True)
def _matched_vars_names(state: RequestState) -> Pairs:
    return [(k, k) for k, _ in state.matched_vars]


@register("HIGHEST_SEVERITY", collection=False, doc="lowest severity number of the rules matched so far")
def _highest_severity(state: RequestState) -> Pairs:
    return scalar(str(state.highest_severity))
