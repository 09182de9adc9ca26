"""The detection engine: rule classification (classify), prefilter slots (prefilter), the address
index for rules without content (iponly), the compiled engine (engine) and per-flow detectors
(detector, with the app-layer driver in applayer and cross-flow state in state)."""

from services.ips.detect.detector import FlowDetector, Hit, Verdict
from services.ips.detect.engine import DEFAULT_STREAM_DEPTH, DetectEngine

__all__ = ["DEFAULT_STREAM_DEPTH", "DetectEngine", "FlowDetector", "Hit", "Verdict"]
