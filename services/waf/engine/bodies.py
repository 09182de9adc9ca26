"""Phase 2 request body handling: limits, then the body processor REQBODY_PROCESSOR names.

Limits follow ModSecurity: a body over SecRequestBodyLimit is refused with 413 under
``SecRequestBodyLimitAction Reject`` (only when the engine is On) or inspected up to the limit
under ``ProcessPartial``; SecRequestBodyNoFilesLimit bounds the body without its file parts
(the whole body for non-multipart requests) and is always Reject; more arguments than
SecArgumentsLimit or JSON deeper than SecRequestBodyJsonDepthLimit is a body processor error
(REQBODY_ERROR, which CRS's 200002-style rules turn into a block). Processor errors never raise:
they are recorded in REQBODY_ERROR / REQBODY_ERROR_MSG, as ModSecurity records them for rules.

REQUEST_BODY follows ModSecurity v2, which the CRS 3.3 regression suite is written against: it
holds the raw body when the URLENCODED processor runs, or when no processor applies and
``ctl:forceRequestBodyVariable=On`` asked for it (CRS 901340 does for unknown content types);
after the XML or MULTIPART processors it stays empty, so a rule on REQUEST_BODY does not see
the same bytes twice (CRS 944120 on an XML body inspects ``XML:/*`` and must not match the
element names in the raw text). JSON bodies keep REQUEST_BODY, as ModSecurity v3 does for every
processor: JSON has no XPath-like view, so rules on the raw JSON text (our core pack's
Log4Shell check, CRS 921/942 on REQUEST_BODY) would otherwise see nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.waf.variables.args import parse_query
from services.waf.variables.base import RequestState
from services.waf.variables.body import BodyParseError, parse_json
from services.waf.variables.multipart import parse_multipart
from services.waf.variables.xml import XmlBodyError, parse_xml

if TYPE_CHECKING:
    from services.waf.engine.ruleset import RuleSet


RAW_BODY_PROCESSORS = ("URLENCODED", "JSON")


@dataclass(frozen=True, slots=True)
class LimitExceeded:
    """The body is refused: ModSecurity answers 413 Request Entity Too Large."""

    message: str


def check_limits(ruleset: RuleSet, body: str, processor: str, enforce: bool) -> tuple[str, LimitExceeded | None]:
    """(the body to inspect, a refusal or None)."""
    limit = ruleset.body_limit
    if len(body) > limit:
        if ruleset.body_limit_action == "Reject":
            refusal = LimitExceeded(f"Request body ({len(body)} bytes) exceeds SecRequestBodyLimit ({limit} bytes)")
            if enforce:
                return body, refusal
        body = body[:limit]
    if processor != "MULTIPART" and len(body) > ruleset.nofiles_limit and enforce:
        return body, LimitExceeded(
            f"Request body no files data length ({len(body)} bytes) exceeds SecRequestBodyNoFilesLimit"
            f" ({ruleset.nofiles_limit} bytes)"
        )
    return body, None


def process_body(
    ruleset: RuleSet, state: RequestState, body: str, enforce: bool, force_body_variable: bool = False
) -> LimitExceeded | None:
    """Fill REQUEST_BODY, ARGS_POST, FILES*, MULTIPART_*, XML from the body; return a refusal if any."""
    processor = state.body_processor
    body, refusal = check_limits(ruleset, body, processor, enforce)
    if processor in RAW_BODY_PROCESSORS or (not processor and force_body_variable):
        state.body = body
    state.body_length = len(body)
    if refusal is not None:
        return refusal
    try:
        if processor == "URLENCODED":
            state.args_post = parse_query(body)
        elif processor == "JSON":
            state.args_post = parse_json(body, ruleset.json_depth_limit) if body.strip() else []
        elif processor == "XML":
            state.xml = parse_xml(body)
        elif processor == "MULTIPART":
            content_type = next((v for k, v in state.headers if k.lower() == "content-type"), "")
            result = parse_multipart(body, content_type, ruleset.upload_file_limit)
            state.multipart = result
            state.args_post = list(result.args)
            if result.error is not None:
                raise BodyParseError(result.error)
            data_size = len(body) - sum(len(f.content) for f in result.files)
            if data_size > ruleset.nofiles_limit and enforce:
                return LimitExceeded(
                    f"Request body no files data length ({data_size} bytes) exceeds"
                    f" SecRequestBodyNoFilesLimit ({ruleset.nofiles_limit} bytes)"
                )
    except (BodyParseError, XmlBodyError) as exc:
        state.reqbody_error = True
        state.reqbody_error_msg = str(exc)
        return None
    count = len(state.args_get) + len(state.args_post)
    if count > ruleset.args_limit:
        state.reqbody_error = True
        state.reqbody_error_msg = f"Request exceeded SecArgumentsLimit ({count} > {ruleset.args_limit} arguments)"
    return None
