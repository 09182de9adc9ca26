"""Free-text query syntax shared by both backends: words and "quoted phrases", all required.

Only this much syntax is offered on purpose: every term is handed to the engine as a *quoted
phrase* (an FTS5 string literal, an OpenSearch ``match_phrase``), so characters that mean
something to FTS5 (``AND``, ``NEAR``, ``*``, ``^``, ``:``, parentheses) or to Lucene's query
parser are plain text and a user can never cause a syntax error in the engine. Operators such as
``OR`` are ordinary words here.
"""

from __future__ import annotations

import re

from shared.stores.errors import QueryParamError

MAX_Q_LENGTH = 1024
MAX_TERMS = 32
_TERM = re.compile(r'"([^"]*)"|([^\s"]+)')
_WORD_CHAR = re.compile(r"[^\W_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_free_text(q: str) -> tuple[str, ...]:
    if len(q) > MAX_Q_LENGTH:
        raise QueryParamError("q", f"is longer than {MAX_Q_LENGTH} characters")
    if q.count('"') % 2:
        raise QueryParamError("q", 'has an unbalanced double quote; quote phrases as "like this"')
    # SQLite ends a query string at NUL ("unterminated string"); control characters are never
    # part of a word in either engine's tokenizer, so they separate words like spaces.
    q = _CONTROL.sub(" ", q)
    terms: list[str] = []
    for match in _TERM.finditer(q):
        term = match.group(1) if match.group(1) is not None else match.group(2)
        term = " ".join(term.split())
        # A term without a letter or digit analyses to no token in both engines; FTS5 rejects an
        # empty phrase and OpenSearch would match nothing, so it is dropped rather than sent.
        if _WORD_CHAR.search(term):
            terms.append(term)
    if not terms:
        raise QueryParamError("q", "contains no word to search for (letters or digits)")
    if len(terms) > MAX_TERMS:
        raise QueryParamError("q", f"has more than {MAX_TERMS} terms")
    return tuple(terms)
