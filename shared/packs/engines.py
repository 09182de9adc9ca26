"""The rule-language versions of our engines, which a pack's ``engine:`` constraint is checked against.

These are not the secchain release version: each moves only when its engine changes what a rule
file means (a new keyword or operator, a changed default), as Suricata's rule-format changes are
tied to its major versions. A bundle's hash covers them, so an engine upgrade never loads a bundle
compiled for another one.
"""

from __future__ import annotations

ENGINE_VERSIONS = {
    "waf": "1.0.0",  # SecLang as libmodsecurity 3 reads it, CRS 3.3/4 operators and transformations
    "ips": "1.0.0",  # Suricata 7 rule syntax (sticky buffers, flow keywords, app-layer buffers)
    "av": "1.0.0",   # ClamAV .hdb/.hsb/.ndb/.ldb signatures and YARA 4
}
KINDS = tuple(ENGINE_VERSIONS)


def matching_version() -> str:
    """The matching core's own version tag (Hyperscan serialized databases are tied to it)."""
    try:
        from shared.matching.hyperscan_build import engine_version

        return engine_version()
    except ImportError:
        return "python"
