"""DURATION and the TIME family (TIME, TIME_EPOCH, TIME_YEAR ... TIME_WDAY).

``SecRule DURATION "@gt 500" "id:1,phase:5,pass,log"`` (CRS 980 reports it). DURATION is the
number of milliseconds since the transaction began, as ModSecurity v2 documents; TIME values are
the server's local time when the rule runs, formatted as ModSecurity does (``TIME`` is
``HH:MM:SS``, months 0-11, weekday 0 = Sunday).
"""

from __future__ import annotations

import time

from services.waf.variables.base import Pairs, RequestState, register, scalar


@register("DURATION", collection=False, doc="milliseconds since the transaction began")
def _duration(state: RequestState) -> Pairs:
    return scalar(str(int((time.time() - state.started) * 1000)) if state.started else "0")


def _clock(fmt: str):  # type: ignore[no-untyped-def]
    def read(state: RequestState) -> Pairs:
        return scalar(fmt.format(t=time.localtime()))

    return read


register("TIME", collection=False)(_clock("{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"))
register("TIME_YEAR", collection=False)(_clock("{t.tm_year:04d}"))
register("TIME_MON", collection=False)(lambda state: scalar(str(time.localtime().tm_mon - 1)))
register("TIME_DAY", collection=False)(_clock("{t.tm_mday}"))
register("TIME_HOUR", collection=False)(_clock("{t.tm_hour}"))
register("TIME_MIN", collection=False)(_clock("{t.tm_min}"))
register("TIME_SEC", collection=False)(_clock("{t.tm_sec}"))
register("TIME_WDAY", collection=False)(lambda state: scalar(str((time.localtime().tm_wday + 1) % 7)))
register("TIME_EPOCH", collection=False)(lambda state: scalar(str(int(time.time()))))
