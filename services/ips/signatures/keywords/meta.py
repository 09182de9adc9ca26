"""Rule metadata: msg, sid, rev, gid, classtype, priority, reference, metadata, target.

Example::

    msg:"ET MALWARE Win32/Agent CnC Checkin"; reference:url,example.org/report;
    classtype:trojan-activity; sid:2012345; rev:3;
    metadata:affected_product Windows_XP_Vista_7_8_10, created_at 2024_01_02;

They do not take part in matching; they become the EVE ``alert`` object (signature_id, rev, gid,
signature, category, severity, metadata). As in Suricata, ``classtype`` must be defined in the
classification file (when one is given) and sets the priority unless ``priority`` does.
"""

from __future__ import annotations

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword


def unquote(arg: Arg) -> str:
    """A quoted string value with Suricata's escapes (``\\"``, ``\\;``, ``\\\\``) resolved."""
    text = arg.require()
    if "\\" not in text and len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"') or (text.endswith('\\"') and not text.endswith('\\\\"')):
            raise arg.error("expected a closing '\"'", len(text))
        text = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _once(b: Builder, arg: Arg) -> None:
    if arg.name in b.seen:
        raise arg.error("given twice in one rule")
    b.seen.add(arg.name)


@keyword("msg")
def setup_msg(b: Builder, arg: Arg) -> None:
    _once(b, arg)
    b.msg = unquote(arg)


@keyword("sid")
def setup_sid(b: Builder, arg: Arg) -> None:
    _once(b, arg)
    b.sid = arg.integer(arg.require(), 0, minimum=1, what="a signature id")


@keyword("rev")
def setup_rev(b: Builder, arg: Arg) -> None:
    _once(b, arg)
    b.rev = arg.integer(arg.require(), 0, what="a revision")


@keyword("gid")
def setup_gid(b: Builder, arg: Arg) -> None:
    _once(b, arg)
    b.gid = arg.integer(arg.require(), 0, what="a generator id")


@keyword("classtype")
def setup_classtype(b: Builder, arg: Arg) -> None:
    _once(b, arg)
    name = arg.require().strip().lower()
    if b.classifications is not None and name not in b.classifications:
        raise arg.error(f"unknown classtype {name!r} (not in the classification file)")
    b.classtype = name


@keyword("priority")
def setup_priority(b: Builder, arg: Arg) -> None:
    _once(b, arg)
    b.priority = arg.integer(arg.require(), 0, minimum=1, maximum=255, what="a priority")


@keyword("reference")
def setup_reference(b: Builder, arg: Arg) -> None:
    text = arg.require()
    kind, comma, value = text.partition(",")
    if not comma or not kind.strip() or not value.strip():
        raise arg.error("expected 'type,value' (e.g. url,example.org/advisory or cve,2021-44228)")
    b.references.append((kind.strip().lower(), value.strip()))


@keyword("metadata")
def setup_metadata(b: Builder, arg: Arg) -> None:
    for entry, at in arg.parts():
        if not entry:
            continue
        key, _, value = entry.partition(" ")
        if not key:
            raise arg.error("expected 'key value'", at)
        b.metadata.setdefault(key, []).append(value.strip())


@keyword("target")
def setup_target(b: Builder, arg: Arg) -> None:
    _once(b, arg)
    value = arg.require()
    if value not in ("src_ip", "dest_ip"):
        raise arg.error(f"expected src_ip or dest_ip, got {value!r}")
    b.target = value
