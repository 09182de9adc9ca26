"""TX, the transaction collection rules write with ``setvar`` and read back.

``SecRule TX:ANOMALY_SCORE "@ge 5" "id:70,phase:2,deny"``. Keys are case-insensitive as in
ModSecurity (``tx.Foo`` and ``TX:foo`` are one variable); MATCHED_VAR_NAME shows ``TX:`` plus the
name as it was first set. ``capture`` writes TX:0..TX:9.
"""

from __future__ import annotations

from services.waf.variables.base import Pairs, RequestState, register


def _tx_lookup(state: RequestState, key: str) -> Pairs:
    value = state.tx.get(key)
    return [] if value is None else [(state.tx_names.get(key, key), value)]


@register("TX", collection=True, lookup=_tx_lookup)
def _tx(state: RequestState) -> Pairs:
    return [(state.tx_names.get(k, k), v) for k, v in state.tx.items()]
