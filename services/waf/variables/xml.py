"""XML request bodies (the XML body processor) and the ``XML:/xpath`` variable.

``SecRule XML:/* "@rx <!ENTITY" "id:1,phase:2,deny"``; CRS inspects ``XML:/*`` (the text of every
element) and ``XML://@*`` (every attribute value). Bodies are parsed with lxml (libxml2, as
ModSecurity) with entity resolution, DTD loading and network access switched off, so a hostile
document cannot make the WAF read files or URLs (XXE) or expand entity bombs. A parse failure
sets REQBODY_ERROR with libxml2's message. XPath expressions are compiled once and cached; an
element yields its text content (all descendant text, as libxml2's ``xmlNodeGetContent``), an
attribute or a text node its value.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from services.waf.variables.base import Pairs, RequestState, register, wire

_XPATH: dict[str, Any] = {}
_XPATH_LIMIT = 1024


class XmlBodyError(ValueError):
    """The body is not well-formed XML; the message is libxml2's."""


def parse_xml(body: str) -> Any:
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False
    )
    try:
        root = etree.fromstring(body.encode("latin-1"), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise XmlBodyError(f"XML parser error: {exc}") from exc
    if root is None:
        raise XmlBodyError("XML parser error: empty document")
    return root


def _compile(expression: str) -> Any:
    compiled = _XPATH.get(expression)
    if compiled is None:
        compiled = etree.XPath(expression)
        if len(_XPATH) >= _XPATH_LIMIT:
            _XPATH.clear()
        _XPATH[expression] = compiled
    return compiled


def _text(node: Any) -> str:
    if isinstance(node, etree._Element):
        return "".join(node.itertext())
    if isinstance(node, bool):
        return "1" if node else "0"
    if isinstance(node, float):
        return str(int(node)) if node.is_integer() else str(node)
    return str(node)


def select_xml(state: RequestState, expression: str) -> Pairs:
    root = state.xml
    if root is None:
        return []
    try:
        result = _compile(expression)(root.getroottree())
    except (etree.XPathError, etree.XPathEvalError) as exc:
        raise ValueError(f"XML:{expression}: invalid XPath expression: {exc}") from exc
    nodes = result if isinstance(result, list) else [result]
    return [(expression, wire(_text(node))) for node in nodes]


@register("XML", collection=True, doc="XPath over the parsed XML body: XML:/*, XML://@*", select=select_xml)
def _xml(state: RequestState) -> Pairs:
    return select_xml(state, "/*")
