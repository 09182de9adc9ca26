"""A test data set and a brute-force model of the AuditStore semantics to check backends against.

The data set is deliberately awkward: timestamp ties (the tiebreaker must order them), three
tenants whose ids share a prefix (``a`` and ``a-b``: index patterns must not confuse them), IPv4,
IPv6 and IPv4-mapped IPv6 sources, alerts without a source, and three UTC days.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from shared.stores import AlertQuery
from shared.stores.model import to_ms
from tests.plugins.stores import make_alert

TENANTS = ("a", "a-b", "Dept.B")
RULES = {"942100": "SQL injection union select", "941100": "XSS script tag", "930120": "OS file access passwd",
         "2100498": "GPL ATTACK_RESPONSE id check returned root", "yara:eicar": "EICAR test file"}
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
BASE = datetime(2026, 11, 25, 22, 0, tzinfo=timezone.utc)


def ts(doc: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(doc["@timestamp"])


def sort_key(doc: dict[str, Any]) -> tuple[int, str, str]:
    return (to_ms(ts(doc)), doc["event"]["id"], doc["tenant"]["id"])


def build_dataset(n: int = 150, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        # ~40 distinct instants over ~50 h: many alerts share a millisecond.
        minute = rng.randrange(40) * 77
        stamp = BASE.timestamp() + minute * 60 + rng.choice((0, 0, 0.5, 0.123))
        rule_id = rng.choice(list(RULES))
        source = rng.choice(("10.0.0.1", "10.0.0.2", "10.0.1.9", "192.168.5.5", "2001:db8::7", "::ffff:10.0.0.3",
                             None))
        words = rng.sample(WORDS, 2)
        docs.append(make_alert(
            tenant_id=rng.choice(TENANTS),
            module=rng.choice(("waf", "ips", "av")),
            action=rng.choice(("blocked", "alerted", "dropped")),
            rule_id=rule_id,
            rule_name=RULES[rule_id],
            severity=rng.randint(1, 4),
            source_ip=source,
            vpc_id=rng.choice(("vpc-1", "vpc-2")),
            service_name=rng.choice(("portal", "mail")),
            trace_id=f"trace-{i % 17}",
            matched_data=f"{words[0]} {words[1]} payload",
            url_original=f"/app/{words[0]}?q={i}",
            tags=[f"attack-{rng.choice(('sqli', 'xss'))}"],
            timestamp=datetime.fromtimestamp(stamp, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        ))
    return docs


def canonical(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _text_values(doc: dict[str, Any]) -> list[str]:
    values = [doc.get("rule", {}).get("name"), doc.get("rule", {}).get("category"),
              doc.get("matched", {}).get("data"), doc.get("url", {}).get("original"),
              doc.get("user_agent", {}).get("original"), doc.get("file", {}).get("name"), *doc.get("tags", [])]
    return [v for v in values if v]


def _phrase_in(phrase: list[str], tokens: list[str]) -> bool:
    return any(tokens[i:i + len(phrase)] == phrase for i in range(len(tokens) - len(phrase) + 1))


def matches(doc: dict[str, Any], q: AlertQuery) -> bool:
    if q.tenant_ids is not None and doc["tenant"]["id"] not in q.tenant_ids:
        return False
    when = to_ms(ts(doc))
    if q.from_ms is not None and when < q.from_ms:
        return False
    if q.until_ms is not None and when >= q.until_ms:
        return False
    checks = {"module": doc["event"]["module"], "action": doc["event"]["action"], "rule_id": doc["rule"]["id"],
              "severity": doc["event"]["severity"], "vpc_id": doc.get("vpc", {}).get("id"),
              "service_name": doc.get("service", {}).get("name"), "trace_id": doc.get("trace", {}).get("id")}
    for name, value in checks.items():
        wanted = getattr(q, name)
        if wanted is not None and wanted != value:
            return False
    if q.source_ip is not None:
        ip = doc.get("source", {}).get("ip")
        if ip is None or canonical(ip) not in ipaddress.ip_network(q.source_ip):
            return False
    for term in q.terms:
        phrase = _tokens(term)
        if not any(_phrase_in(phrase, _tokens(v)) for v in _text_values(doc)):
            return False
    return True


def expected(docs: list[dict[str, Any]], q: AlertQuery) -> list[dict[str, Any]]:
    found = [d for d in docs if matches(d, q)]
    return sorted(found, key=sort_key, reverse=q.sort == "desc")


def top(counter: Counter[Any], n: int, key: Any = lambda k: k) -> list[tuple[Any, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], key(kv[0])))[:n]


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [f'{d["tenant"]["id"]}/{d["event"]["id"]}' for d in docs]
