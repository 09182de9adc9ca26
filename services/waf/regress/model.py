"""CRS regression YAML, read into one model for both formats.

CRS 3.3 (python ``ftw``)::

    meta: {name: 920100.yaml, enabled: true, ...}
    tests:
      - test_title: 920100-1
        stages:
          - stage: {input: {...}, output: {...}}

CRS 4.x (``go-ftw``)::

    meta: {...}
    rule_id: 920100
    tests:
      - test_id: 1
        stages:
          - input: {...}
            output: {...}        # or output.log: {expect_ids: [...], no_expect_ids: [...]}

Only what the tests say is kept; defaults are ftw's (GET, ``/``, HTTP/1.1, headers autocompleted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TestFileError(ValueError):
    """A regression YAML file is unreadable or does not have the ftw / go-ftw shape."""

    __test__ = False  # not a pytest class


@dataclass(frozen=True, slots=True)
class StageInput:
    method: str = "GET"
    uri: str = "/"
    version: str = "HTTP/1.1"
    headers: tuple[tuple[str, str], ...] = ()
    data: str | None = None
    autocomplete: bool = True  # go-ftw autocomplete_headers; ftw's stop_magic is its negation
    raw_request: bytes | None = None  # raw_request / encoded_request: sent byte for byte
    dest_addr: str | None = None
    port: int | None = None
    protocol: str = "http"


@dataclass(frozen=True, slots=True)
class Expect:
    status: tuple[int, ...] = ()
    log_contains: str | None = None
    no_log_contains: str | None = None
    response_contains: str | None = None
    expect_error: bool = False
    expect_ids: tuple[int, ...] = ()
    no_expect_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Stage:
    input: StageInput
    expect: Expect


@dataclass(frozen=True, slots=True)
class TestCase:
    title: str  # "920100-1", the name overrides and reports use
    rule_id: int | None
    file: Path
    stages: tuple[Stage, ...]
    description: str = ""
    enabled: bool = True
    tags: tuple[str, ...] = field(default=())

    __test__ = False


# libyaml when present: the CRS 3.3 suite is 178 files and the pure-Python loader takes seconds.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RULE_IN_NAME = re.compile(r"^(\d{6})")


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _raw_from_input(where: str, inp: dict[str, Any]) -> bytes | None:
    import base64
    import binascii

    if "encoded_request" in inp and inp["encoded_request"] is not None:
        try:
            return base64.b64decode(_str(inp["encoded_request"]), validate=True)
        except binascii.Error as exc:
            raise TestFileError(f"{where}: encoded_request is not valid base64: {exc}") from exc
    if "raw_request" in inp and inp["raw_request"] is not None:
        # Sent as go-ftw sends a YAML string: UTF-8 (a "\xNN" escape is the code point U+00NN); bytes that
        # must go out raw belong in encoded_request.
        return _str(inp["raw_request"]).encode("utf-8", errors="surrogateescape")
    return None


def _data(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        # ftw joins a list of lines with CRLF (multipart bodies written line by line).
        return "\r\n".join(_str(v) for v in value)
    return _str(value)


def _input(where: str, inp: Any) -> StageInput:
    if not isinstance(inp, dict):
        raise TestFileError(f"{where}: input: expected a mapping, got {type(inp).__name__}")
    headers_raw = inp.get("headers") or {}
    if isinstance(headers_raw, dict):
        headers = tuple((_str(k), _str(v)) for k, v in headers_raw.items())
    elif isinstance(headers_raw, list):  # go-ftw also accepts ordered [name, value] pairs
        headers = tuple((_str(h[0]), _str(h[1])) for h in headers_raw)
    else:
        raise TestFileError(f"{where}: input.headers: expected a mapping")
    autocomplete = not bool(inp.get("stop_magic", False))
    if "autocomplete_headers" in inp:
        autocomplete = bool(inp["autocomplete_headers"])
    port = inp.get("port")
    return StageInput(
        method=_str(inp.get("method", "GET")) if inp.get("method") is not None else "GET",
        uri=_str(inp["uri"]) if inp.get("uri") is not None else "/",
        version=_str(inp["version"]) if inp.get("version") is not None else "HTTP/1.1",
        headers=headers,
        data=_data(inp.get("data")),
        autocomplete=autocomplete,
        raw_request=_raw_from_input(where, inp),
        dest_addr=_str(inp["dest_addr"]) if inp.get("dest_addr") else None,
        port=int(port) if port is not None else None,
        protocol=_str(inp.get("protocol") or "http"),
    )


def _ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(int(v) for v in items)


def _expect(where: str, out: Any) -> Expect:
    if not isinstance(out, dict):
        raise TestFileError(f"{where}: output: expected a mapping, got {type(out).__name__}")
    status = out.get("status")
    statuses = tuple(int(s) for s in status) if isinstance(status, list) else ((int(status),) if status is not None else ())
    log = out.get("log") or {}
    if not isinstance(log, dict):
        raise TestFileError(f"{where}: output.log: expected a mapping")
    return Expect(
        status=statuses,
        # go-ftw 1.x spells the log regexes output.log.match_regex / no_match_regex.
        log_contains=_str(out.get("log_contains") or log.get("match_regex")) or None,
        no_log_contains=_str(out.get("no_log_contains") or log.get("no_match_regex")) or None,
        response_contains=_str(out["response_contains"]) if out.get("response_contains") else None,
        expect_error=bool(out.get("expect_error", False)),
        expect_ids=_ids(log.get("expect_ids")),
        no_expect_ids=_ids(log.get("no_expect_ids")),
    )


def load_file(path: Path) -> list[TestCase]:
    """Every test of one regression file; TestFileError names the file and test when it is malformed."""
    try:
        doc = yaml.load(path.read_bytes(), Loader=_LOADER)
    except OSError as exc:
        raise TestFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TestFileError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tests"), list):
        raise TestFileError(f"{path}: expected a mapping with a 'tests' list (ftw / go-ftw format)")
    meta = doc.get("meta") or {}
    enabled = bool(meta.get("enabled", True))
    file_rule = doc.get("rule_id")
    if file_rule is None:
        m = _RULE_IN_NAME.match(path.name)
        file_rule = int(m.group(1)) if m else None
    cases: list[TestCase] = []
    for i, test in enumerate(doc["tests"]):
        where = f"{path}: tests[{i}]"
        if not isinstance(test, dict) or not isinstance(test.get("stages"), list):
            raise TestFileError(f"{where}: expected a mapping with a 'stages' list")
        if "test_title" in test:
            title = _str(test["test_title"])
        elif "test_id" in test:
            title = f"{file_rule}-{test['test_id']}"
        else:
            raise TestFileError(f"{where}: neither test_title (ftw) nor test_id (go-ftw)")
        m = _RULE_IN_NAME.match(title)
        rule_id = int(m.group(1)) if m else (int(file_rule) if file_rule is not None else None)
        stages = []
        for j, st in enumerate(test["stages"]):
            swhere = f"{where} ({title}) stages[{j}]"
            body = st.get("stage", st) if isinstance(st, dict) else None
            if not isinstance(body, dict) or "input" not in body or "output" not in body:
                raise TestFileError(f"{swhere}: expected input and output")
            stages.append(Stage(_input(swhere, body["input"]), _expect(swhere, body["output"])))
        cases.append(TestCase(title=title, rule_id=rule_id, file=path, stages=tuple(stages),
                              description=_str(test.get("desc", "")), enabled=enabled and test.get("enabled", True) is not False))
    return cases


def load_dir(root: Path) -> list[TestCase]:
    """All tests under ``root`` (recursively, *.yaml and *.yml), in file name order."""
    if root.is_file():
        return load_file(root)
    if not root.is_dir():
        raise TestFileError(f"{root}: no such directory")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    cases: list[TestCase] = []
    for path in files:
        cases += load_file(path)
    return cases
