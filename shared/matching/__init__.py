"""The matching core every engine scans through (WAF @rx/@pm, IPS content/pcre, AV).

Hyperscan when available, with per-pattern fallback to prefilter+confirm or Python ``re`` for the
PCRE it rejects, and a pure-Python reference backend with the same API. See DESIGN.md "Matching
core" and the module docstrings for the semantics of each path.
"""

from shared.matching.compile import compile_patterns, hyperscan_available
from shared.matching.database import DEFAULT_STREAM_HISTORY, MatchDatabase, MatchStream
from shared.matching.hyperscan_build import PATH_HYPERSCAN, PATH_PREFILTER, PATH_REGEX, PATHS, STATS
from shared.matching.model import UNKNOWN_START, Match, Pattern, PatternCompileError, PatternFlag
from shared.matching.pcre import PcreTranslationError

compile_stats = STATS

__all__ = [
    "DEFAULT_STREAM_HISTORY",
    "PATHS",
    "PATH_HYPERSCAN",
    "PATH_PREFILTER",
    "PATH_REGEX",
    "UNKNOWN_START",
    "Match",
    "MatchDatabase",
    "MatchStream",
    "Pattern",
    "PatternCompileError",
    "PatternFlag",
    "PcreTranslationError",
    "compile_patterns",
    "compile_stats",
    "hyperscan_available",
]
