"""Rule files → ``RuleSet``: header parsing, option dispatch through the keyword table, counts.

Example::

    rules = load_rules(["/etc/secchain/ips/rules"], classification=Path(".../classification.config"))
    print(len(rules.signatures), rules.counts_by_reason().most_common(5), rules.errors[:3])

As Suricata's loader does, a bad rule never stops the load: syntax errors are collected with
``file:line:column``, rules using what this engine does not implement load *disabled* with a
reason, and commented-out rules (``# alert ...``, how ET ships its disabled rules) are neither.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from services.ips.model import AppProto
from services.ips.signatures import keywords as _keywords  # noqa: F401  (fills the table)
from services.ips.signatures.builder import Builder, Header
from services.ips.signatures.classification import Classification, load_classifications
from services.ips.signatures.errors import RuleSyntaxError, RuleUnsupported
from services.ips.signatures.keywords.base import KEYWORDS, Arg
from services.ips.signatures.lexer import Source, Token, split_rule
from services.ips.signatures.model import Signature
from services.ips.signatures.variables import GroupError, RuleVariables

ACTIONS = {"alert": "alert", "drop": "drop", "pass": "pass", "reject": "reject",
           "rejectsrc": "reject", "rejectdst": "reject", "rejectboth": "reject"}

# header protocol -> (transport, app-layer protocol, packet_only, stream_only)
PROTOCOLS: dict[str, tuple[str, AppProto | None, bool, bool]] = {
    "ip": ("any", None, False, False),
    "ipv4": ("any", None, False, False),
    "ipv6": ("any", None, False, False),
    "tcp": ("tcp", None, False, False),
    "tcp-pkt": ("tcp", None, True, False),
    "tcp-stream": ("tcp", None, False, True),
    "udp": ("udp", None, False, False),
    "icmp": ("icmp", None, False, False),
    "icmpv4": ("icmp", None, False, False),
    "icmpv6": ("icmp", None, False, False),
    "http": ("tcp", AppProto.HTTP, False, False),
    "http1": ("tcp", AppProto.HTTP, False, False),
    "dns": ("any", AppProto.DNS, False, False),  # Suricata's dns rules match DNS over UDP and TCP
    "tls": ("tcp", AppProto.TLS, False, False),
    "ssl": ("tcp", AppProto.TLS, False, False),
}
# Protocols Suricata knows but no parser here understands: honest "disabled", not a syntax error.
UNSUPPORTED_PROTOCOLS = frozenset(
    "smtp ftp ftp-data smb ssh dcerpc krb5 nfs dhcp snmp sip rdp modbus dnp3 enip ikev2 ike "
    "http2 mqtt rfb nntp imap pop3 tftp ntp quic bittorrent-dht telnet ldap pgsql websocket "
    "msn jabber irc sctp pkthdr dnp3 cip template".split()
)


@dataclass(frozen=True, slots=True)
class RuleLocation:
    """Where a rule that did not load came from (no ``Signature`` exists for it)."""

    file: str
    line: int
    sid: int | None
    raw: str


@dataclass
class RuleSet:
    signatures: list[Signature] = field(default_factory=list)
    disabled: list[tuple[Signature | RuleLocation, str]] = field(default_factory=list)
    errors: list[RuleSyntaxError] = field(default_factory=list)
    commented: int = 0
    files: list[str] = field(default_factory=list)
    load_seconds: float = 0.0

    @property
    def enabled(self) -> int:
        """Rules not commented out: loaded + disabled + broken."""
        return len(self.signatures) + len(self.disabled) + len(self.errors)

    def counts_by_reason(self) -> Counter[str]:
        return Counter(reason for _, reason in self.disabled)


_SID = re.compile(r"[(;]\s*sid\s*:\s*(\d+)")


def _header(tokens: list[Token], src: Source, variables: RuleVariables) -> Header:
    action_t, proto_t, src_t, sport_t, dir_t, dst_t, dport_t = tokens
    action = ACTIONS.get(action_t.text)
    if action is None:
        raise src.error(f"expected an action (alert, drop, reject or pass), got {action_t.text!r}", action_t.start)
    proto = proto_t.text.lower()
    if proto in UNSUPPORTED_PROTOCOLS:
        raise RuleUnsupported(f"app-layer protocol '{proto}' not supported")
    entry = PROTOCOLS.get(proto)
    if entry is None:
        raise src.error(f"expected a protocol (ip, tcp, udp, icmp, http, dns, tls ...), got {proto_t.text!r}", proto_t.start)
    if dir_t.text not in ("->", "<>"):
        raise src.error(f"expected a direction ('->' or '<>'), got {dir_t.text!r}", dir_t.start)

    def addresses(token: Token):
        try:
            return variables.address_set(token.text)
        except GroupError as exc:
            raise src.error(exc.message, token.start + exc.offset) from None

    def ports(token: Token):
        try:
            return variables.port_set(token.text)
        except GroupError as exc:
            raise src.error(exc.message, token.start + exc.offset) from None

    transport, app, packet_only, stream_only = entry
    return Header(
        action, proto, transport, app, addresses(src_t), ports(sport_t), addresses(dst_t), ports(dport_t),
        dir_t.text == "<>", packet_only, stream_only,
    )


def parse_source(
    src: Source,
    variables: RuleVariables | None = None,
    classifications: dict[str, Classification] | None = None,
) -> Signature:
    variables = variables or _default_variables()
    tokens, options = split_rule(src)
    builder = Builder(src, _header(tokens, src, variables), classifications)
    for option in options:
        kw = KEYWORDS.get(option.name)
        if kw is None:
            raise RuleUnsupported(f"unsupported keyword '{option.name}'")
        kw.setup(builder, Arg(option.name, option.start, option.value, option.value_start, src))
    return builder.finish()


def parse_rule(
    text: str,
    *,
    file: str = "<string>",
    line: int = 1,
    variables: RuleVariables | None = None,
    classifications: dict[str, Classification] | None = None,
) -> Signature:
    """Parse one rule; raises ``RuleSyntaxError`` (located) or ``RuleUnsupported`` (reason)."""
    return parse_source(Source.single(text, file, line), variables, classifications)


_DEFAULT: RuleVariables | None = None


def _default_variables() -> RuleVariables:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RuleVariables()
    return _DEFAULT


def iter_rules(text: str, file: str) -> Iterator[tuple[Source | None, str]]:
    """Logical rules of a file: (source, "") for rules, (None, line) for commented-out rules.

    A line ending in a backslash continues on the next one (Suricata joins them without the
    backslash and newline).
    """
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        number = i + 1
        i += 1
        if not stripped:
            continue
        if stripped.startswith("#"):
            body = stripped.lstrip("#").lstrip()
            if body.split(" ", 1)[0] in ACTIONS and "(" in body:
                yield None, body
            continue
        lead = len(raw) - len(raw.lstrip())
        parts = [raw[lead:]]
        segments = [(0, number, lead + 1)]
        offset = 0
        while parts[-1].rstrip().endswith("\\") and i < len(lines):
            last = parts[-1].rstrip()[:-1]
            parts[-1] = last
            offset += len(last)
            segments.append((offset, i + 1, 1))
            parts.append(lines[i])
            i += 1
        yield Source("".join(parts).rstrip(), file, tuple(segments)), ""


def _rule_files(paths: Iterable[Path | str]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(path.glob("*.rules")))
        else:
            files.append(path)
    return files


def load_rules(
    paths: Iterable[Path | str],
    *,
    variables: RuleVariables | None = None,
    classification: Path | str | None = None,
) -> RuleSet:
    """Load rule files (or directories of ``*.rules``) into a ``RuleSet``; never raises per rule."""
    started = time.perf_counter()
    variables = variables or RuleVariables()
    classes = load_classifications(classification) if classification is not None else None
    result = RuleSet()
    by_key: dict[tuple[int, int], int] = {}
    for path in _rule_files(paths):
        result.files.append(str(path))
        text = path.read_text(encoding="utf-8", errors="replace")
        for src, commented in iter_rules(text, str(path)):
            if src is None:
                result.commented += 1
                continue
            try:
                sig = parse_source(src, variables, classes)
            except RuleSyntaxError as exc:
                result.errors.append(exc)
                continue
            except RuleUnsupported as exc:
                m = _SID.search(src.text)
                result.disabled.append((RuleLocation(src.file, src.line, int(m.group(1)) if m else None, src.text), exc.reason))
                continue
            previous = by_key.get(sig.key)
            if previous is not None:
                # Suricata keeps one rule per gid:sid (the higher rev) and reports the other.
                old = result.signatures[previous]
                keep, drop = (sig, old) if sig.rev > old.rev else (old, sig)
                result.signatures[previous] = keep
                result.disabled.append((drop, f"duplicate sid {sig.gid}:{sig.sid}"))
                continue
            by_key[sig.key] = len(result.signatures)
            result.signatures.append(sig)
    result.load_seconds = time.perf_counter() - started
    return result
