"""Per-buffer content inspection: one signature's elements against one buffer's bytes.

Example: ``content:"a"; content:"b"; distance:0; within:1;`` against ``b"a_xab"``. The first
``a`` (offset 0) leaves ``b`` nowhere in the one-byte window after it, so, like Suricata's
``DetectEngineContentInspection`` (detect-engine-content-inspection.c), the inspector goes back
and tries the next ``a`` (offset 3), after which ``b`` is found: match.

The rules of the walk, all Suricata's:

- Elements run in rule order; each starts from the cursor the previous one left (the end of the
  last content/pcre match, or where byte_jump/byte_extract moved it); checks (byte_test,
  isdataat, bsize, negated content) leave it unchanged.
- When an element fails, its predecessor is retried at its next occurrence only if the failed
  element was relative to it (``BufferInspection.retry``); otherwise retrying cannot help.
- When an element that does not depend on earlier ones (absolute content, non-relative pcre)
  fails, no earlier choice can change that: the whole buffer fails at once ("discontinue").
- Retries are bounded per buffer (Suricata's ``inspection_recursion_limit``, 3000 by default) so a
  crafted payload cannot make a rule quadratic without limit.
"""

from __future__ import annotations

from typing import Any

from services.ips.signatures.model import BufferInspection

RECURSION_LIMIT = 3000


class InspectContext:
    """State of one signature evaluation: byte_extract variables and the retry budget.

    Create one per signature evaluation and pass it to every ``inspect_buffer`` call of that
    signature, in buffer order, so variables extracted in one buffer are visible to the next.
    """

    __slots__ = ("vars", "last_start", "budget", "limit")

    def __init__(self, limit: int = RECURSION_LIMIT) -> None:
        self.vars: dict[str, int] = {}
        self.last_start = 0
        self.budget = limit
        self.limit = limit


def inspect_buffer(inspection: BufferInspection, data: bytes, ctx: InspectContext) -> bool:
    """Does ``data`` (the buffer named ``inspection.name``, untransformed) satisfy the elements?"""
    if inspection.transforms:
        data = inspection.transform(data)
    elements = inspection.elements
    if not elements:
        return True
    ctx.budget = ctx.limit
    if len(elements) == 1:
        return elements[0].find(data, 0, ctx, 0) >= 0
    return _walk(elements, inspection.retry, 0, data, 0, ctx) > 0


def _walk(elements: tuple[Any, ...], retry: tuple[bool, ...], i: int, data: bytes, prev: int, ctx: InspectContext) -> int:
    """1 match, 0 no match (an earlier element may retry), -1 no match whatever came before."""
    element = elements[i]
    last = i + 1 == len(elements)
    resume = 0
    while True:
        pos = element.find(data, prev, ctx, resume)
        if pos < 0:
            return 0 if element.depends else -1
        if last:
            return 1
        start = ctx.last_start
        result = _walk(elements, retry, i + 1, data, pos, ctx)
        if result:
            return result
        if not retry[i]:
            return 0
        ctx.budget -= 1
        if ctx.budget <= 0:
            return -1
        resume = start + 1
