"""t:normalizePath (alias normalisePath) and t:normalizePathWin -- resolve ``.``/``..``, squeeze ``//``.

Example (CRS 930100-series): ``/a/b/../../etc/./passwd`` -> ``/etc/passwd``. As ModSecurity's
``normalize_path_inplace``: ``..`` above the root of an absolute path is dropped, leading ``..``
of a relative path is kept, a trailing slash is kept. The Win variant first turns ``\\`` into ``/``.
"""

from __future__ import annotations

from services.waf.transformations.base import register


def _normalize(value: str) -> str:
    if not value:
        return value
    absolute = value.startswith("/")
    trailing = value.endswith("/") or value.endswith("/.") or value.endswith("/..") or value in (".", "..")
    out: list[str] = []
    for segment in value.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not absolute:
                out.append("..")
            continue
        out.append(segment)
    path = "/".join(out)
    if absolute:
        path = "/" + path
    if trailing and path and not path.endswith("/"):
        path += "/"
    return path


@register("normalizePath")
def normalize_path(value: str) -> str:
    return _normalize(value)


@register("normalisePath")
def normalise_path(value: str) -> str:
    return _normalize(value)


@register("normalizePathWin")
def normalize_path_win(value: str) -> str:
    return _normalize(value.replace("\\", "/"))


@register("normalisePathWin")
def normalise_path_win(value: str) -> str:
    return _normalize(value.replace("\\", "/"))
