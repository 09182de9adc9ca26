"""@geoLookup and @rbl -- accepted, reported as not available, never match.

Examples (CRS 910xxx, only with IP reputation configured): ``SecRule REMOTE_ADDR "@geoLookup"``,
``SecRule REMOTE_ADDR "@rbl sbl-xbl.spamhaus.org"``. A GeoIP database (SecGeoLookupDb) and DNS
blocklist lookups from the data plane are not part of this engine: loading a rule that uses them
leaves a notice naming file:line so the operator knows the check is inert, and the rule never
matches (as ModSecurity behaves when no database is configured).
"""

from __future__ import annotations

from services.waf.operators.base import CompileContext, Operator, OperatorContext, register


class Unavailable(Operator):
    def __init__(self, name: str) -> None:
        self.name = name

    def evaluate(self, ctx: OperatorContext, value: str, capture: bool) -> bool:
        return False


@register("geoLookup", needs_argument=False)
def make_geo(argument: str, ctx: CompileContext) -> Operator:
    ctx.notices.append(f"{ctx.location}: @geoLookup is not available (no GeoIP database); the rule never matches")
    return Unavailable("geoLookup")


@register("rbl")
def make_rbl(argument: str, ctx: CompileContext) -> Operator:
    ctx.notices.append(f"{ctx.location}: @rbl {argument} is not available (no DNS blocklist lookups); the rule never matches")
    return Unavailable("rbl")
