"""@pmFromFile (alias @pmf) -- @pm with the phrases read from files, one phrase per line.

Example (CRS 913100): ``SecRule REQUEST_HEADERS:User-Agent "@pmFromFile scanners-user-agents.data"``.
As ModSecurity: relative paths are relative to the rule file that names them, several files may
be listed (blank-separated), blank lines and lines starting with ``#`` are skipped, and a line
is one phrase (inner blanks included). Remote (``https://``) lists are refused at load: this
engine never fetches rules over the network while loading.
"""

from __future__ import annotations

from services.waf.engine.matcher import PatternCompileError
from services.waf.operators.base import CompileContext, Operator, register
from services.waf.operators.no_match import NoMatch
from services.waf.operators.pm import Pm


def read_phrases(argument: str, ctx: CompileContext) -> tuple[str, ...]:
    phrases: list[str] = []
    for name in argument.split():
        if "://" in name:
            raise ValueError(f"@pmFromFile {name!r}: remote phrase lists are not supported; use a local file")
        path = ctx.data_path(name)
        try:
            text = path.read_bytes().decode("latin-1")
        except OSError as exc:
            raise ValueError(f"@pmFromFile cannot read {str(path)!r}: {exc.strerror}") from exc
        for line in text.splitlines():
            phrase = line.strip()
            if phrase and not phrase.startswith("#"):
                phrases.append(phrase)
    return tuple(dict.fromkeys(phrases))


def _make(argument: str, ctx: CompileContext) -> Operator:
    phrases = read_phrases(argument, ctx)
    if not phrases:
        ctx.notices.append(f"{ctx.location}: @pmFromFile {argument!r} holds no phrase; the rule never matches")
        return NoMatch()
    try:
        return Pm(ctx.matchers.literals(phrases))
    except PatternCompileError as exc:
        raise ValueError(f"@pmFromFile phrases do not compile: {exc}") from exc


register("pmFromFile")(_make)
register("pmf")(_make)
