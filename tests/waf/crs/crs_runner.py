"""In-process runner over the CRS 3.3 regression YAML (for measuring the engine, not the proxy).

Each stage's request goes straight into a Transaction (no sockets), so this measures the engine's
CRS semantics alone; the HTTP runner (``secchain waf regress``) covers the proxy path. A test
passes as go-ftw judges it: ``log_contains`` / ``no_log_contains`` are regexes over the rule ids
the WAF logged for the request (rules with ``log``, as ModSecurity writes them to its error
log); ``status`` and ``expect_error`` need the HTTP path and are reported as skipped here.

    .venv/bin/python -m tests.waf.crs.crs_runner /work/shared/crs-3.3-tests [--pl 4] [-v]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from services.waf.engine.ruleset import RuleSet

CRS_SETUP = Path("/etc/modsecurity/crs/crs-setup.conf")
CRS_RULES = Path("/usr/share/modsecurity-crs/rules")
DEFAULT_TESTS = Path("/work/shared/crs-3.3-tests")

# What the CRS 3.3 CI configures before running its regression suite (its docker image's
# defaults plus the test-suite settings): everything on, detection only.
def crs_config(paranoia: int, *, engine: str = "DetectionOnly", extra: str = "") -> str:
    return f"""
SecRuleEngine {engine}
SecRequestBodyAccess On
SecResponseBodyAccess On
Include {CRS_SETUP}
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={paranoia}"
SecAction "id:900950,phase:1,nolog,pass,t:none,setvar:tx.crs_validate_utf8_encoding=1"
SecAction "id:900300,phase:1,nolog,pass,t:none,setvar:tx.max_num_args=255,setvar:tx.arg_name_length=100,\
setvar:tx.arg_length=400,setvar:tx.total_arg_length=64000"
{extra}
Include {CRS_RULES}/*.conf
"""


def load_crs(paranoia: int, *, engine: str = "DetectionOnly", cache_dir: Path | None = None, extra: str = "") -> RuleSet:
    return RuleSet.from_text(
        crs_config(paranoia, engine=engine, extra=extra), "<crs-setup>", cache_dir=cache_dir, apache_escapes=True
    )


@dataclass
class Outcome:
    test: str
    rule: str
    passed: bool | None  # None: skipped (needs the HTTP path)
    detail: str = ""


def _body(data: Any) -> bytes:
    if data is None:
        return b""
    if isinstance(data, list):
        data = "\r\n".join(str(x) for x in data)
    return str(data).encode("utf-8", "surrogateescape")


def run_stage(rs: RuleSet, stage: dict[str, Any]) -> tuple[set[int], Any]:
    spec = stage.get("input", {})
    headers = [(str(k), str(v)) for k, v in (spec.get("headers") or {}).items()]
    body = _body(spec.get("data"))
    if body and not stop_magic(spec):
        # go-ftw / ftw complete the headers a body needs unless the test says stop_magic.
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(body))))
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    tx = rs.new_transaction(client_ip="127.0.0.1", client_port=40000, server_ip="127.0.0.1",
                            server_port=int(spec.get("port", 80)), unique_id="crs-test")
    tx.process_request_line(str(spec.get("method", "GET")), str(spec.get("uri", "/")), str(spec.get("version", "HTTP/1.1")))
    tx.process_request_headers(headers)
    tx.process_request_body(body)
    tx.process_response_headers(200, [("Content-Type", "text/html")])
    tx.process_response_body(b"")
    tx.process_logging()
    return {m.id for m in tx.matched_rules if m.log}, tx


def stop_magic(spec: dict[str, Any]) -> bool:
    return bool(spec.get("stop_magic"))


def judge(ids: set[int], output: dict[str, Any]) -> tuple[bool | None, str]:
    log = " ".join(f'[id "{i}"]' for i in sorted(ids))
    if "log_contains" in output:
        if not re.search(output["log_contains"], log):
            return False, f"expected {output['log_contains']!r}; logged {sorted(ids)}"
        return True, ""
    if "no_log_contains" in output:
        if re.search(output["no_log_contains"], log):
            return False, f"unexpected {output['no_log_contains']!r}; logged {sorted(ids)}"
        return True, ""
    return None, "needs the HTTP path (status / expect_error)"


def run_file(rs: RuleSet, path: Path) -> list[Outcome]:
    doc = yaml.safe_load(path.read_text("utf-8"))
    outcomes = []
    for test in doc.get("tests", []):
        title = str(test.get("test_title"))
        result: bool | None = True
        detail = ""
        for item in test.get("stages", []):
            stage = item.get("stage", item)
            spec = stage.get("input", {})
            if "raw_request" in spec or "encoded_request" in spec:
                result, detail = None, "raw request"
                break
            ids, _ = run_stage(rs, stage)
            verdict, why = judge(ids, stage.get("output", {}))
            if verdict is False:
                result, detail = False, why
                break
            if verdict is None and result is True:
                result, detail = None, why
        outcomes.append(Outcome(title, path.stem, result, detail))
    return outcomes


def run(tests_dir: Path, rs: RuleSet, only: str | None = None) -> list[Outcome]:
    outcomes = []
    for path in sorted(tests_dir.glob("*/*.yaml")):
        if only and not path.stem.startswith(only):
            continue
        outcomes.extend(run_file(rs, path))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="?", type=Path, default=DEFAULT_TESTS)
    parser.add_argument("--pl", type=int, default=4)
    parser.add_argument("--only", help="rule id prefix, e.g. 942")
    parser.add_argument("-v", action="store_true")
    args = parser.parse_args(argv)
    rs = load_crs(args.pl, cache_dir=Path("/tmp/secchain-crs-cache"))
    outcomes = run(args.tests, rs, args.only)
    failed = [o for o in outcomes if o.passed is False]
    skipped = [o for o in outcomes if o.passed is None]
    per_rule = Counter(o.rule for o in failed)
    if args.v:
        for o in failed:
            print(f"FAIL {o.test}: {o.detail}")
    print("failures per rule:", dict(sorted(per_rule.items())))
    passed = len(outcomes) - len(failed) - len(skipped)
    print(f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
