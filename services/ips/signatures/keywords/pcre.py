"""``pcre``: a Perl-compatible regular expression on the current buffer, matched on bytes.

Example::

    pcre:"/^\\/[a-z0-9]{8}\\.php\\?id=\\d+$/Ui";     # U: on http.uri (legacy flag), i: caseless
    content:"|0d 0a|"; pcre:"/^X-Token: [A-F0-9]{32}/R";   # R: anchored at the previous match

Flags follow Suricata 7 (``detect-pcre.c``): ``i s m x`` as in PCRE; ``A`` anchored; ``R``
relative (the subject starts at the previous match's end, so ``^`` anchors there); the legacy
buffer flags ``U I P Q H D M C S Y V W Z`` select a buffer like the modifiers do; ``B`` and ``O``
are accepted and ignored (Snort raw-bytes, match-limit override). ``G`` (ungreedy) and ``E``
with a ``$`` have no Python ``re`` equivalent: the rule loads disabled, never mis-matches.
The PCRE dialect is translated by ``shared.matching.pcre`` (the same translator the WAF uses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from services.ips.model import AppProto
from services.ips.signatures.builder import Builder
from services.ips.signatures.errors import RuleUnsupported
from services.ips.signatures.keywords.base import Arg, keyword
from shared.matching.pcre import PcreTranslationError, to_python

BUFFER_FLAGS = {
    "U": "http.uri",
    "I": "http.uri.raw",
    "P": "http.request_body",
    "Q": "http.response_body",
    "H": "http.header",
    "D": "http.header.raw",
    "M": "http.method",
    "C": "http.cookie",
    "S": "http.stat_code",
    "Y": "http.stat_msg",
    "V": "http.user_agent",
    "W": "http.host",
    "Z": "http.host.raw",
}
_KNOWN = set("ismxAERGBO") | set(BUFFER_FLAGS)


@dataclass(frozen=True, slots=True)
class Pcre:
    source: str
    regex: Any = field(repr=False, compare=False)
    negated: bool = False
    relative: bool = False
    anchored: bool = False
    depends: bool = field(default=False, init=False)
    movable: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depends", self.relative)
        object.__setattr__(self, "movable", not self.negated)

    def find(self, data: bytes, prev: int, ctx: Any, resume: int) -> int:
        if self.relative and prev:
            subject, base = data[prev:], prev
        else:
            subject, base = data, 0
        pos = resume - base if resume > base else 0
        if pos > len(subject):
            m = None
        else:
            m = self.regex.match(subject, pos) if self.anchored else self.regex.search(subject, pos)
        if self.negated:
            return -1 if m is not None else prev
        if m is None:
            return -1
        ctx.last_start = base + m.start()
        return base + m.end()


def parse_pcre(arg: Arg) -> tuple[str, str, bool, int]:
    """Split ``!"/expr/flags"`` into (expr, flags, negated, offset of expr in the value)."""
    text = arg.require()
    negated = text.startswith("!")
    start = 1 if negated else 0
    while start < len(text) and text[start] == " ":
        start += 1
    body = text[start:]
    if not (len(body) >= 2 and body[0] == '"' and body[-1] == '"'):
        raise arg.error('expected a quoted expression "/.../flags"', start)
    body = body[1:-1]
    start += 1
    if not body.startswith("/"):
        raise arg.error("expected '/' to open the expression", start)
    end = body.rfind("/")
    if end == 0:
        raise arg.error("expected '/' to close the expression", start + len(body))
    return body[1:end], body[end + 1 :], negated, start + 1


@keyword("pcre")
def setup_pcre(b: Builder, arg: Arg) -> None:
    expr, flags, negated, expr_at = parse_pcre(arg)
    flags_at = expr_at + len(expr) + 1
    options = 0
    relative = anchored = False
    buffer_flag: str | None = None
    buffer_flag_at = 0
    for i, flag in enumerate(flags):
        if flag not in _KNOWN:
            raise arg.error(f"unknown pcre flag {flag!r}", flags_at + i)
        if flag == "i":
            options |= re.IGNORECASE
        elif flag == "s":
            options |= re.DOTALL
        elif flag == "m":
            options |= re.MULTILINE
        elif flag == "x":
            options |= re.VERBOSE
        elif flag == "A":
            anchored = True
        elif flag == "R":
            relative = True
        elif flag == "G":
            raise RuleUnsupported("pcre flag 'G' (ungreedy) not supported")
        elif flag in BUFFER_FLAGS:
            if buffer_flag is not None and BUFFER_FLAGS[buffer_flag] != BUFFER_FLAGS[flag]:
                raise arg.error(f"pcre flags {buffer_flag!r} and {flag!r} select two buffers", flags_at + i)
            buffer_flag, buffer_flag_at = flag, flags_at + i
    if "E" in flags and "$" in expr:
        raise RuleUnsupported("pcre flag 'E' (dollar end-only) not supported")
    if buffer_flag is not None:
        canonical = BUFFER_FLAGS[buffer_flag]
        # ET writes /Q both under http.response_body and under file.data, the same HTTP body
        same = {canonical} | ({"file.data"} if canonical == "http.response_body" else set())
        if b.sticky is not None and (b.sticky.name not in same or b.sticky.transforms):
            raise arg.error(
                f"pcre flag {buffer_flag!r} can't be used while sticky buffer '{b.sticky.name}' is active", buffer_flag_at
            )
        b.use_app_proto(AppProto.HTTP, arg, f"pcre flag '{buffer_flag}'")
        draft = b.sticky if b.sticky is not None else b.buffer(canonical)
    else:
        draft = b.current()
    raw = expr.encode("utf-8")
    if options & re.VERBOSE:
        raw = b"(?x)" + raw
        options &= ~re.VERBOSE
    try:
        regex = re.compile(to_python(raw), options)
    except (PcreTranslationError, re.error, OverflowError, RecursionError) as exc:
        raise RuleUnsupported(f"pcre not expressible in Python re ({type(exc).__name__})") from None
    b.add(Pcre(expr, regex, negated, relative, anchored), draft)
