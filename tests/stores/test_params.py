"""HTTP query parameters of /v1/alerts and /v1/alerts/stats -> AlertQuery, and their errors."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.stores import AlertQuery, QueryParamError, parse_alert_query, parse_stats_query

NOW = datetime(2026, 11, 27, 17, 30, tzinfo=timezone.utc)


def parse(**params: str) -> AlertQuery:
    return parse_alert_query(params, ("t1",), now=NOW)


def test_every_parameter() -> None:
    query = parse(q='union "select from"', **{"from": "now-15m", "to": "2026-11-27T19:30:00+01:00"},
                  module="waf", action="blocked", rule_id="942100", source_ip="10.1.2.3/8", severity="3",
                  vpc_id="vpc-1", service_name="portal", trace_id="abc", size="1000", sort="asc")
    assert query.tenant_ids == ("t1",)
    assert query.terms == ("union", "select from")
    assert query.time_from == NOW - timedelta(minutes=15)
    assert query.time_to == datetime(2026, 11, 27, 18, 30, tzinfo=timezone.utc)
    assert (query.module, query.action, query.rule_id, query.severity) == ("waf", "blocked", "942100", 3)
    assert query.source_ip == "10.0.0.0/8"
    assert (query.vpc_id, query.service_name, query.trace_id) == ("vpc-1", "portal", "abc")
    assert (query.size, query.sort) == (1000, "asc")


def test_defaults() -> None:
    query = parse()
    assert (query.size, query.sort, query.q, query.time_from, query.cursor) == (50, "desc", None, None, None)


@pytest.mark.parametrize(("value", "expected"), [
    ("now", NOW),
    ("now-2h", NOW - timedelta(hours=2)),
    ("now-7d", NOW - timedelta(days=7)),
    ("now-1w", NOW - timedelta(weeks=1)),
    ("now+30s", NOW + timedelta(seconds=30)),
    ("now 30s", NOW + timedelta(seconds=30)),  # '+' decoded to a space by the query string
    ("2026-11-27T10:00:00Z", datetime(2026, 11, 27, 10, tzinfo=timezone.utc)),
    ("2026-11-27t10:00:00.250z", datetime(2026, 11, 27, 10, 0, 0, 250000, tzinfo=timezone.utc)),
    ("2026-11-27T10:00:00 02:00", datetime(2026, 11, 27, 8, tzinfo=timezone.utc)),
    ("2026-11-27T10:00:00-05:00", datetime(2026, 11, 27, 15, tzinfo=timezone.utc)),
])
def test_times(value: str, expected: datetime) -> None:
    assert parse(**{"from": value}).time_from == expected


@pytest.mark.parametrize(("params", "param", "fragment"), [
    ({"from": "yesterday"}, "from", "RFC 3339"),
    ({"from": "2026-11-27"}, "from", "RFC 3339"),
    ({"from": "2026-11-27T10:00:00"}, "from", "RFC 3339"),
    ({"to": "2026-13-27T10:00:00Z"}, "to", "not a valid time"),
    ({"to": "now-5y"}, "to", "RFC 3339"),
    ({"from": "now", "to": "now-1h"}, "from", "after 'to'"),
    ({"size": "0"}, "size", "from 1 to 1000"),
    ({"size": "1001"}, "size", "from 1 to 1000"),
    ({"size": "ten"}, "size", "integer"),
    ({"size": "-1"}, "size", "integer"),
    ({"severity": "5"}, "severity", "from 1 to 4"),
    ({"module": "dns"}, "module", "waf, ips, av"),
    ({"action": "ignored"}, "action", "blocked"),
    ({"source_ip": "10.0.0.300"}, "source_ip", "IP address or CIDR"),
    ({"source_ip": "10.0.0.0/33"}, "source_ip", "IP address or CIDR"),
    ({"sort": "up"}, "sort", "asc or desc"),
    ({"cursor": "garbage"}, "cursor", "malformed"),
    ({"q": '"unbalanced'}, "q", "unbalanced"),
    ({"q": "*** ---"}, "q", "no word"),
    ({"rule_id": " "}, "rule_id", "empty"),
    ({"vpc_id": "vpc 1"}, "vpc_id", "characters"),
    ({"interval": "5m"}, "interval", "unknown parameter for /v1/alerts"),
    ({"tenant": "other"}, "tenant", "unknown parameter"),
])
def test_errors_name_the_parameter(params: dict[str, str], param: str, fragment: str) -> None:
    with pytest.raises(QueryParamError) as err:
        parse(**params)
    assert err.value.param == param
    assert repr(param) in str(err.value) and fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_repeated_parameter_is_rejected() -> None:
    multidict = pytest.importorskip("multidict")
    params = multidict.MultiDict([("module", "waf"), ("module", "ips")])
    with pytest.raises(QueryParamError) as err:
        parse_alert_query(params, None)
    assert err.value.param == "module" and "more than once" in str(err.value)


def test_tenant_scope_comes_from_the_caller_not_the_request() -> None:
    assert parse_alert_query({}, None).tenant_ids is None
    assert parse_alert_query({}, ()).tenant_ids == ()


def test_stats_parameters() -> None:
    request = parse_stats_query({"interval": "5m", "top": "20", "module": "ips", "from": "now-1d"}, ("t1",), now=NOW)
    assert (request.interval, request.top, request.query.module) == ("5m", 20, "ips")
    assert request.query.time_from == NOW - timedelta(days=1)
    assert parse_stats_query({}, None).interval is None


@pytest.mark.parametrize(("params", "param"), [
    ({"interval": "5 minutes"}, "interval"), ({"interval": "0m"}, "interval"), ({"interval": "1M"}, "interval"),
    ({"top": "0"}, "top"), ({"top": "101"}, "top"), ({"size": "10"}, "size"), ({"cursor": "x"}, "cursor"),
])
def test_stats_errors(params: dict[str, str], param: str) -> None:
    with pytest.raises(QueryParamError) as err:
        parse_stats_query(params, None)
    assert err.value.param == param


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["q", "from", "to", "module", "action", "rule_id", "source_ip", "severity",
                                        "size", "cursor", "sort", "vpc_id", "trace_id", "bogus"]),
                       st.text(max_size=40)))
def test_any_input_parses_or_raises_query_param_error(params: dict[str, str]) -> None:
    try:
        parse(**params)
    except QueryParamError as exc:
        assert exc.param in params
