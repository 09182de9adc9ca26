"""SecLang operators, one module each, all registered in :data:`OPERATORS`."""

# Registration order is the order error messages list the operators in: the common ones first.
from services.waf.operators import rx, pm  # noqa: F401, I001
from services.waf.operators import (  # noqa: F401  (modules register themselves)
    begins_with,
    contains,
    contains_word,
    detect_sqli,
    detect_xss,
    ends_with,
    eq,
    ge,
    gt,
    ip_match,
    le,
    lt,
    no_match,
    pm_from_file,
    streq,
    strmatch,
    unavailable,
    unconditional_match,
    validate_byte_range,
    validate_url_encoding,
    validate_utf8_encoding,
    within,
)
from services.waf.operators.base import (
    OPERATORS,
    CompileContext,
    Operator,
    OperatorContext,
    OperatorDef,
)

__all__ = ["OPERATORS", "CompileContext", "Operator", "OperatorContext", "OperatorDef"]
