"""``noalert`` and ``tag``: what happens around an alert rather than whether the rule matches.

Example::

    flowbits:set,ET.stage1; noalert;          # match silently, only to set state
    tag:session,5,packets;                    # Suricata logs following packets (accepted, ignored)

``noalert`` (Suricata 7 ``detect-noalert.c``) is the same as ``flowbits:noalert``. ``tag`` only
drives Suricata's packet logging, which this engine has no equivalent of; it is accepted so the
rule still detects.
"""

from __future__ import annotations

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword


@keyword("noalert")
def setup_noalert(b: Builder, arg: Arg) -> None:
    arg.none()
    b.noalert = True


@keyword("tag")
def setup_tag(b: Builder, arg: Arg) -> None:
    kind = arg.require().split(",")[0].strip()
    if kind not in ("session", "host"):
        raise arg.error(f"expected tag type session or host, got {kind!r}")
