"""SecLang transformations (``t:``), one module each, all in :data:`TRANSFORMATIONS`."""

from services.waf.transformations import (  # noqa: F401  (modules register themselves)
    base64_decode,
    base64_decode_ext,
    cmd_line,
    comments,
    compress_whitespace,
    css_decode,
    escape_seq_decode,
    hash,
    hex_decode,
    hex_encode,
    html_entity_decode,
    js_decode,
    length,
    lowercase,
    none,
    normalize_path,
    remove_nulls,
    remove_whitespace,
    replace_nulls,
    sql_hex_decode,
    trim,
    url_decode,
    url_decode_uni,
    url_encode,
    utf8_to_unicode,
)
from services.waf.transformations.base import TRANSFORMATIONS, Transform, TransformationDef, lookup

__all__ = ["TRANSFORMATIONS", "Transform", "TransformationDef", "lookup"]
