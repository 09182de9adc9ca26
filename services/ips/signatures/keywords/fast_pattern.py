"""``fast_pattern``: which content the multi-pattern prefilter searches for, explicit or chosen.

Example::

    content:"/wp-admin/"; http.uri; fast_pattern;
    content:"|00 01 86 a5|"; fast_pattern:1,3;      # chop: search only bytes 1..3 of the content

As in Suricata 7 (``detect-fast-pattern.c``, "fast pattern determination" in its docs), when no
content is marked, the rule's fast pattern is the longest non-negated content in the most
preferred buffer; ties go to the pattern with the best character diversity (Suricata's
``PatternStrength``), then to the earliest. ``fast_pattern:only`` is deprecated in Suricata 7 and
means plain ``fast_pattern``; the content is still confirmed by full inspection here.
"""

from __future__ import annotations

from typing import Any

from services.ips.signatures.builder import Builder, BufferDraft
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.keywords.content import last_content
from services.ips.signatures.model import FastPattern

# Low-entropy buffers ("GET", "200") make poor prefilter patterns; Suricata registers them with
# a different mpm priority so a content elsewhere in the rule is preferred.
_LOW_PRIORITY = frozenset({"http.method", "http.stat_code", "http.stat_msg", "http.protocol"})


@keyword("fast_pattern")
def setup_fast_pattern(b: Builder, arg: Arg) -> None:
    c = last_content(b, arg)
    if b.fast_pattern_content is not None:
        raise arg.error("fast_pattern is already set on another content of this rule")
    if arg.value is not None:
        text = arg.value
        if text == "only":
            c.fp_only = True
        else:
            parts = arg.parts()
            if len(parts) != 2:
                raise arg.error("expected 'only' or 'offset,length'")
            off = arg.integer(parts[0][0], parts[0][1], maximum=65535, what="a chop offset")
            length = arg.integer(parts[1][0], parts[1][1], minimum=1, maximum=65535, what="a chop length")
            if off + length > len(c.pattern):
                raise arg.error(f"chop {off},{length} runs past the end of the {len(c.pattern)}-byte content")
            c.fp_chop = (off, length)
    c.fast_pattern = True
    b.fast_pattern_content = c
    b.fp_arg = arg  # validated in select(): later modifiers may still change the content


def pattern_strength(pattern: bytes) -> int:
    """Suricata's tie-breaker: distinct letters score 3, distinct printable/common bytes 4, other
    distinct bytes 6, repeats 1 — "AAAA" is a worse prefilter than "A1b/"."""
    seen: set[int] = set()
    score = 0
    for byte in pattern:
        if byte in seen:
            score += 1
            continue
        seen.add(byte)
        if 65 <= byte <= 90 or 97 <= byte <= 122:
            score += 3
        elif 32 <= byte <= 126 or byte in (0, 1, 255):
            score += 4
        else:
            score += 6
    return score


def select(b: Builder, contents: list[tuple[BufferDraft, Any]]) -> FastPattern | None:
    chosen = b.fast_pattern_content
    if chosen is not None:
        arg: Arg = b.fp_arg
        if chosen.negated and (chosen.fp_only or chosen.relative or chosen.absolute or chosen.fp_chop):
            raise arg.error("a negated content with position modifiers or 'only'/chop can't be the fast pattern")
        if chosen.fp_only and (chosen.relative or chosen.absolute or chosen.startswith or chosen.endswith):
            raise arg.error("fast_pattern:only can't be used on a content with position modifiers")
        draft = chosen.draft
        pattern = chosen.pattern
        if chosen.fp_chop is not None:
            off, length = chosen.fp_chop
            pattern = pattern[off : off + length]
        return FastPattern(
            draft.name, pattern, chosen.nocase, chosen.fp_only, chosen.pattern, draft.key[1], explicit=True
        )
    best: tuple[tuple[int, int, int, int], BufferDraft, Any] | None = None
    for order, (draft, c) in enumerate(contents):
        if c.negated:
            continue
        rank = (
            0 if draft.name in _LOW_PRIORITY else 1,
            len(c.pattern),
            pattern_strength(c.pattern),
            -order,
        )
        if best is None or rank > best[0]:
            best = (rank, draft, c)
    if best is None:
        return None
    _, draft, c = best
    return FastPattern(draft.name, c.pattern, c.nocase, False, c.pattern, draft.key[1])
