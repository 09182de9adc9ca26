"""``threshold`` and ``detection_filter``: alert rate control per source, destination or rule.

Example::

    threshold: type limit, track by_src, count 1, seconds 3600;   # at most 1 alert/host/hour
    detection_filter: track by_dst, count 20, seconds 60;          # alert from the 21st hit on

Suricata 7 (``detect-threshold.c``, ``detect-detection-filter.c``): all options are required,
in any order; ``type`` is ``limit`` (first N per period), ``threshold`` (every Nth) or ``both``
(once per period after N); ``track`` is ``by_src``, ``by_dst``, ``by_rule`` or ``by_both``.
A rule may have a threshold or a detection_filter, not both.
"""

from __future__ import annotations

from services.ips.signatures.builder import Builder
from services.ips.signatures.keywords.base import Arg, keyword
from services.ips.signatures.model import ThresholdSpec

_TRACKS = ("by_src", "by_dst", "by_rule", "by_both")


def _parse(arg: Arg, keys: tuple[str, ...]) -> dict[str, str | int]:
    found: dict[str, str | int] = {}
    for option, at in arg.parts():
        key, _, value = option.partition(" ")
        value = value.strip()
        if key not in keys:
            raise arg.error(f"expected one of {', '.join(keys)}, got {option!r}", at)
        if key in found:
            raise arg.error(f"{key} given twice", at)
        value_at = at + len(key) + 1
        if key == "type":
            if value not in ("limit", "threshold", "both"):
                raise arg.error(f"expected type limit, threshold or both, got {value!r}", value_at)
            found[key] = value
        elif key == "track":
            if value not in _TRACKS:
                raise arg.error(f"expected track {', '.join(_TRACKS)}, got {value!r}", value_at)
            found[key] = value
        else:
            found[key] = arg.integer(value, value_at, minimum=1 if key == "count" else 0, what=f"a {key}")
    missing = [k for k in keys if k not in found]
    if missing:
        raise arg.error(f"expected {', '.join(missing)} as well", len(arg.require()))
    return found


@keyword("threshold")
def setup_threshold(b: Builder, arg: Arg) -> None:
    if b.threshold is not None or b.detection_filter is not None:
        raise arg.error("a rule can have only one threshold or detection_filter")
    f = _parse(arg, ("type", "track", "count", "seconds"))
    b.threshold = ThresholdSpec(str(f["type"]), str(f["track"]), int(f["count"]), int(f["seconds"]))


@keyword("detection_filter")
def setup_detection_filter(b: Builder, arg: Arg) -> None:
    if b.threshold is not None or b.detection_filter is not None:
        raise arg.error("a rule can have only one threshold or detection_filter")
    f = _parse(arg, ("track", "count", "seconds"))
    b.detection_filter = ThresholdSpec("detection_filter", str(f["track"]), int(f["count"]), int(f["seconds"]))
