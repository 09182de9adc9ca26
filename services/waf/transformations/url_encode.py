"""t:urlEncode -- percent-encode every byte outside ``[A-Za-z0-9*-._]``; a space becomes ``+``.

Example: ``SecRule ARGS "@streq a+b%2fc" "t:urlEncode"`` against ``a b/c``. ModSecurity's set of
bytes left as they are is alphanumerics and ``* - . _``.
"""

from __future__ import annotations

from services.waf.transformations.base import register

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-._")


@register("urlEncode")
def url_encode(value: str) -> str:
    return "".join(c if c in _SAFE else "+" if c == " " else f"%{ord(c):02x}" for c in value)
