"""multipart/form-data request bodies: a strict parser and the FILES* and MULTIPART_* variables.

``SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,deny"`` (ModSecurity's recommended
rule) and CRS 920120/922xxx read what this parser reports. It follows the checks ModSecurity v2's
``msc_multipart.c`` makes and sets the same flags (reference manual, "MULTIPART_STRICT_ERROR"):

- BOUNDARY_QUOTED / BOUNDARY_WHITESPACE: the Content-Type boundary was quoted / had blanks;
- DATA_BEFORE / DATA_AFTER: bytes before the first or after the closing boundary;
- HEADER_FOLDING / INVALID_HEADER_FOLDING: a part header continued on the next line (folding
  with nothing to fold into is the invalid form);
- LF_LINE / CRLF_LF_LINES: a line ended by a bare LF, and a body mixing both line ends;
- MISSING_SEMICOLON / INVALID_QUOTING: Content-Disposition parameters not separated by ``;`` or
  quoted with ``'`` (or an unterminated quote);
- INVALID_PART: a part without a usable Content-Disposition or with a malformed header line;
- FILE_LIMIT_EXCEEDED: more file parts than the limit (SecUploadFileLimit, default 100);
- UNMATCHED_BOUNDARY: a line that starts like the boundary but is not one.

MULTIPART_STRICT_ERROR is 1 when any of these except UNMATCHED_BOUNDARY and CRLF_LF_LINES is
set, or when the body could not be parsed (missing final boundary, bad boundary, ...), which also
sets REQBODY_ERROR with ModSecurity's message. Plain fields go to ARGS_POST; file parts to FILES
(field name -> file name), FILES_SIZES and FILES_TMP_CONTENT; every part header line to
MULTIPART_PART_HEADERS under the part's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from services.waf.variables.base import Pairs, RequestState, register, scalar

FILE_LIMIT = 100
MAX_BOUNDARY = 70
FLAGS = (
    "BOUNDARY_QUOTED",
    "BOUNDARY_WHITESPACE",
    "DATA_BEFORE",
    "DATA_AFTER",
    "HEADER_FOLDING",
    "LF_LINE",
    "CRLF_LF_LINES",
    "MISSING_SEMICOLON",
    "INVALID_QUOTING",
    "INVALID_PART",
    "INVALID_HEADER_FOLDING",
    "FILE_LIMIT_EXCEEDED",
    "UNMATCHED_BOUNDARY",
)
NOT_STRICT = ("UNMATCHED_BOUNDARY", "CRLF_LF_LINES")
_BCHARS = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]+")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


@dataclass(slots=True)
class FilePart:
    field: str
    filename: str
    content: str


@dataclass(slots=True)
class MultipartResult:
    args: Pairs = field(default_factory=list)
    files: list[FilePart] = field(default_factory=list)
    part_headers: Pairs = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    error: str | None = None

    @property
    def strict_error(self) -> bool:
        return self.error is not None or any(f not in NOT_STRICT for f in self.flags)


class MultipartError(ValueError):
    """The body cannot be read as multipart; the message is ModSecurity's REQBODY_ERROR_MSG."""


def boundary_of(content_type: str, result: MultipartResult) -> str:
    params = content_type.split(";")[1:]
    found: list[str] = []
    for param in params:
        name, eq, value = param.partition("=")
        if name.strip().lower() != "boundary" or not eq:
            continue
        if name != name.strip() and name.rstrip() != name or value != value.lstrip():
            result.flags.add("BOUNDARY_WHITESPACE")
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            result.flags.add("BOUNDARY_QUOTED")
            value = value[1:-1]
        elif '"' in value:
            raise MultipartError("Multipart: Invalid boundary in C-T (quote).")
        found.append(value)
    if not found:
        raise MultipartError("Multipart: Boundary not found in C-T.")
    if len(found) > 1:
        raise MultipartError("Multipart: Multiple boundary parameters in C-T.")
    boundary = found[0]
    if not boundary or len(boundary) > MAX_BOUNDARY:
        raise MultipartError("Multipart: Invalid boundary in C-T (length).")
    if not _BCHARS.fullmatch(boundary):
        raise MultipartError("Multipart: Invalid boundary in C-T (characters).")
    if " " in boundary or "\t" in boundary:
        result.flags.add("BOUNDARY_WHITESPACE")
    return boundary


def parse_disposition(value: str, result: MultipartResult) -> dict[str, str]:
    """``form-data; name="a"; filename="b"`` -> {name, filename}; flags quoting problems."""
    text = value.strip()
    if text[:9].lower() != "form-data":
        raise MultipartError("Multipart: Invalid Content-Disposition header (not form-data).")
    i, n = 9, len(text)
    params: dict[str, str] = {}
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            break
        if text[i] != ";":
            result.flags.add("MISSING_SEMICOLON")
        else:
            i += 1
        while i < n and text[i] in " \t":
            i += 1
        start = i
        while i < n and text[i] not in "=; \t":
            i += 1
        name = text[start:i].lower()
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] != "=":
            raise MultipartError("Multipart: Invalid Content-Disposition header (missing '=' after parameter).")
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\':
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                result.flags.add("INVALID_QUOTING")
                raise MultipartError("Multipart: Invalid Content-Disposition header (unterminated quote).")
            i += 1
            param = "".join(chars)
        else:
            start = i
            while i < n and text[i] not in "; \t":
                i += 1
            param = text[start:i]
            if param.startswith("'"):
                result.flags.add("INVALID_QUOTING")
        if name not in ("name", "filename", "filename*"):
            raise MultipartError(f"Multipart: Invalid Content-Disposition header (unknown parameter {name!r}).")
        if name in params:
            raise MultipartError(f"Multipart: Invalid Content-Disposition header (duplicate parameter {name!r}).")
        params[name] = param
    return params


def _boundary_line(line: str, marker: str, result: MultipartResult) -> str | None:
    """'part', 'final' or None for a line (terminator stripped)."""
    if not line.startswith(marker):
        return None
    rest = line[len(marker) :].rstrip(" \t")
    if rest == "":
        return "part"
    if rest == "--":
        return "final"
    result.flags.add("UNMATCHED_BOUNDARY")
    return None


def parse_multipart(body: str, content_type: str, file_limit: int = FILE_LIMIT) -> MultipartResult:
    result = MultipartResult()
    try:
        _parse(body, content_type, file_limit, result)
    except MultipartError as exc:
        result.error = str(exc)
    return result


def _parse(body: str, content_type: str, file_limit: int, result: MultipartResult) -> None:
    marker = "--" + boundary_of(content_type, result)
    endings: set[str] = set()
    state = "preamble"
    headers: list[tuple[str, str]] = []
    data: list[str] = []
    before: list[str] = []
    for raw in _LINE.findall(body):
        if raw.endswith("\r\n"):
            line, ending = raw[:-2], "crlf"
        elif raw.endswith("\n"):
            line, ending = raw[:-1], "lf"
        else:
            line, ending = raw, ""
        if state == "epilogue":
            if raw.strip():
                result.flags.add("DATA_AFTER")
            continue
        kind = _boundary_line(line, marker, result)
        if kind is not None:
            if ending:
                endings.add(ending)
            if state == "preamble":
                if "".join(before).strip("\r\n"):
                    result.flags.add("DATA_BEFORE")
            elif state == "headers":
                raise MultipartError("Multipart: Part headers not terminated by an empty line.")
            else:
                _finish_part(headers, data, file_limit, result)
            state = "epilogue" if kind == "final" else "headers"
            headers, data = [], []
            continue
        if state == "preamble":
            before.append(raw)
        elif state == "headers":
            if ending:
                endings.add(ending)
            if line == "":
                state = "data"
            elif line[0] in " \t":
                if not headers:
                    result.flags.add("INVALID_HEADER_FOLDING")
                    raise MultipartError("Multipart: Invalid part header (folding error).")
                result.flags.add("HEADER_FOLDING")
                name, value = headers[-1]
                headers[-1] = (name, value + " " + line.strip(" \t"))
            else:
                name, colon, value = line.partition(":")
                if not colon or not name.strip():
                    result.flags.add("INVALID_PART")
                    raise MultipartError("Multipart: Invalid part header (colon missing).")
                headers.append((name.strip(), value.strip(" \t")))
        else:
            data.append(raw)
    if state != "epilogue":
        raise MultipartError("Multipart: Final boundary missing.")
    if "lf" in endings:
        result.flags.add("LF_LINE")
        if "crlf" in endings:
            result.flags.add("CRLF_LF_LINES")


def _finish_part(headers: list[tuple[str, str]], data: list[str], file_limit: int, result: MultipartResult) -> None:
    content = "".join(data)
    if content.endswith("\r\n"):
        content = content[:-2]
    elif content.endswith("\n"):
        content = content[:-1]
    disposition = next((v for k, v in headers if k.lower() == "content-disposition"), None)
    if disposition is None:
        result.flags.add("INVALID_PART")
        raise MultipartError("Multipart: Part missing Content-Disposition header.")
    params = parse_disposition(disposition, result)
    name = params.get("name")
    if name is None:
        result.flags.add("INVALID_PART")
        raise MultipartError("Multipart: Content-Disposition header missing name field.")
    result.names.append(name)
    for key, value in headers:
        result.part_headers.append((name, f"{key}: {value}"))
    filename = params.get("filename", params.get("filename*"))
    if filename is None:
        result.args.append((name, content))
        return
    if len(result.files) >= file_limit:
        result.flags.add("FILE_LIMIT_EXCEEDED")
        return
    result.files.append(FilePart(field=name, filename=filename, content=content))


def _mp(state: RequestState) -> MultipartResult | None:
    result = state.multipart
    return result if isinstance(result, MultipartResult) else None


@register("FILES", collection=True, doc="uploaded files: field name -> file name")
def _files(state: RequestState) -> Pairs:
    mp = _mp(state)
    return [(f.field, f.filename) for f in mp.files] if mp else []


@register("FILES_NAMES", collection=True, doc="field names of uploaded files")
def _files_names(state: RequestState) -> Pairs:
    mp = _mp(state)
    return [(f.field, f.field) for f in mp.files] if mp else []


@register("FILES_SIZES", collection=True)
def _files_sizes(state: RequestState) -> Pairs:
    mp = _mp(state)
    return [(f.field, str(len(f.content))) for f in mp.files] if mp else []


@register("FILES_COMBINED_SIZE", collection=False)
def _files_combined_size(state: RequestState) -> Pairs:
    mp = _mp(state)
    return scalar(str(sum(len(f.content) for f in mp.files) if mp else 0))


@register("FILES_TMP_CONTENT", collection=True, doc="content of uploaded files (kept in memory)")
def _files_tmp_content(state: RequestState) -> Pairs:
    mp = _mp(state)
    return [(f.field, f.content) for f in mp.files] if mp else []


@register("FILES_TMPNAMES", collection=True, doc="always empty: uploads are never written to disk")
def _files_tmpnames(state: RequestState) -> Pairs:
    return []


@register("MULTIPART_FILENAME", collection=False)
def _multipart_filename(state: RequestState) -> Pairs:
    mp = _mp(state)
    return scalar(mp.files[-1].filename) if mp and mp.files else []


@register("MULTIPART_NAME", collection=False)
def _multipart_name(state: RequestState) -> Pairs:
    mp = _mp(state)
    return scalar(mp.names[-1]) if mp and mp.names else []


@register("MULTIPART_PART_HEADERS", collection=True, doc="part name -> each header line of the part")
def _multipart_part_headers(state: RequestState) -> Pairs:
    mp = _mp(state)
    return list(mp.part_headers) if mp else []


@register("MULTIPART_STRICT_ERROR", collection=False)
def _multipart_strict_error(state: RequestState) -> Pairs:
    mp = _mp(state)
    return scalar("1" if mp is not None and mp.strict_error else "0")


def _flag(flag: str):  # type: ignore[no-untyped-def]
    def read(state: RequestState) -> Pairs:
        mp = _mp(state)
        return scalar("1" if mp is not None and flag in mp.flags else "0")

    return read


for _flag_name in FLAGS:
    register(f"MULTIPART_{_flag_name}", collection=False)(_flag(_flag_name))
