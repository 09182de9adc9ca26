"""The detection engine (see engine.py): rule classification, prefilter slots, per-flow detectors."""

from services.ips.detect.engine import DEFAULT_STREAM_DEPTH, DetectEngine, FlowDetector, Hit, Verdict

__all__ = ["DEFAULT_STREAM_DEPTH", "DetectEngine", "FlowDetector", "Hit", "Verdict"]
