"""``classification.config``: classtype short name → description (EVE ``alert.category``) + priority.

The format is Snort's, kept by Suricata (``util-classification-config.c``)::

    config classification: trojan-activity,A Network Trojan was detected,1

A rule's ``classtype`` must name an entry; its priority becomes the rule's unless the rule sets
``priority`` itself. EVE ``alert.severity`` is that priority.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from services.ips.signatures.errors import RuleSyntaxError

_LINE = re.compile(r"config\s+classification\s*:\s*([^,\s]+)\s*,\s*([^,]+?)\s*,\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Classification:
    name: str
    description: str
    priority: int


def parse_classifications(text: str, *, file: str = "<string>") -> dict[str, Classification]:
    out: dict[str, Classification] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            column = len(raw) - len(raw.lstrip()) + 1
            raise RuleSyntaxError(
                "expected 'config classification: name,description,priority'",
                file=file,
                line=number,
                column=column,
            )
        name = m.group(1).lower()  # Suricata looks classtypes up case-insensitively
        out[name] = Classification(name, m.group(2), int(m.group(3)))
    return out


def load_classifications(path: Path | str) -> dict[str, Classification]:
    path = Path(path)
    return parse_classifications(path.read_text(encoding="utf-8", errors="replace"), file=str(path))
