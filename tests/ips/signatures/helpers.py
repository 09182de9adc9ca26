"""Small helpers shared by the signature tests: build a rule around options, run one buffer."""

from __future__ import annotations

from services.ips.signatures import InspectContext, Signature, inspect_buffer, parse_rule


def rule(options: str, header: str = "alert tcp any any -> any any") -> Signature:
    return parse_rule(f"{header} ({options} sid:1;)")


def matches(sig: Signature, data: bytes, name: str = "payload") -> bool:
    """Inspect the buffer ``name`` of ``sig`` against ``data`` (the buffer must exist)."""
    ctx = InspectContext()
    for inspection in sig.buffers:
        if inspection.name == name:
            return inspect_buffer(inspection, data, ctx)
    raise AssertionError(f"no buffer {name!r} in {sig.buffer_names()}")


def payload_match(options: str, data: bytes) -> bool:
    return matches(rule(options), data)
