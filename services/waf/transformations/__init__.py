"""SecLang transformations (``t:``), one module each, all in :data:`TRANSFORMATIONS`."""

from services.waf.transformations import (  # noqa: F401  (modules register themselves)
    base64_decode,
    compress_whitespace,
    hex_decode,
    html_entity_decode,
    length,
    lowercase,
    none,
    remove_nulls,
    remove_whitespace,
    replace_nulls,
    trim,
    url_decode,
    url_decode_uni,
)
from services.waf.transformations.base import TRANSFORMATIONS, Transform, TransformationDef, lookup

__all__ = ["TRANSFORMATIONS", "Transform", "TransformationDef", "lookup"]
