"""CRS regression runner: replays CRS regression YAML against a running WAF and judges it as go-ftw does.

Two formats are read: the CRS 3.3 ``ftw`` format (``meta`` + ``tests[].stages[].stage.input/output``)
and the CRS 4.x ``go-ftw`` format (``rule_id`` at the top, ``stages[].input/output`` without the
``stage`` wrapper). Each stage's request goes over a plain socket exactly as written, malformed or
not; the verdict reads the WAF's match log line for that request (keyed by ``X-Request-Id``) the way
go-ftw reads ModSecurity's error log. go-ftw brackets each stage with marker requests to find its
lines in a shared log; the request id makes that unnecessary, and lets stages run concurrently.

    python -m services.waf.regress DIR [--waf URL] [--match-log FILE] [--start] [--rule ID] [--include RE]
"""

from services.waf.regress.judge import Verdict, judge
from services.waf.regress.model import Expect, Stage, StageInput, TestCase, load_dir, load_file
from services.waf.regress.overrides import Overrides, load_overrides
from services.waf.regress.runner import RunResult, Runner

__all__ = [
    "Expect", "Overrides", "RunResult", "Runner", "Stage", "StageInput", "TestCase", "Verdict", "judge",
    "load_dir", "load_file", "load_overrides",
]
