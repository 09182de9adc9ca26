"""Pins in a policy's rule sets: ``core`` (the provider's working tree) or ``core@1.2.0`` (published)."""

from __future__ import annotations


def with_candidate(rulesets: tuple[str, ...], candidate: str) -> tuple[str, ...]:
    """The policy's packs with a shadow candidate in place of the same pack (appended if absent).

    ``("core@1.0.0", "extra")`` shadowed by ``core@1.1.0`` -> ``("core@1.1.0", "extra")``: the
    candidate is judged beside exactly what the policy runs, every other pack unchanged.
    """
    name = candidate.partition("@")[0]
    if any(r.partition("@")[0] == name for r in rulesets):
        return tuple(candidate if r.partition("@")[0] == name else r for r in rulesets)
    return (*rulesets, candidate)
