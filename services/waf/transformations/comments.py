"""t:replaceComments, t:removeComments, t:removeCommentsChar -- C, SQL and HTML comment evasion.

Example (CRS 942xxx): ``UNION/**/SELECT`` -> ``UNION SELECT`` with replaceComments. As ModSecurity:
replaceComments turns each ``/* ... */`` (an unterminated one runs to the end) into one space;
removeComments deletes ``/* ... */`` and ``<!-- ... -->`` and everything from an SQL ``--`` or
``#`` to the end of the value; removeCommentsChar deletes only the comment markers
(``/*``, ``*/``, ``<!--``, ``-->``, ``--``, ``#``).
"""

from __future__ import annotations

import re

from services.waf.transformations.base import register

_C_COMMENT = re.compile(r"/\*.*?(?:\*/|$)", re.DOTALL)
_ANY_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)|<!--.*?(?:-->|\Z)|(?:--|#).*\Z", re.DOTALL)
_MARKERS = re.compile(r"/\*|\*/|<!--|-->|--|#")


@register("replaceComments")
def replace_comments(value: str) -> str:
    if "/*" not in value:
        return value
    return _C_COMMENT.sub(" ", value)


@register("removeComments")
def remove_comments(value: str) -> str:
    return _ANY_COMMENT.sub("", value)


@register("removeCommentsChar")
def remove_comments_char(value: str) -> str:
    return _MARKERS.sub("", value)
