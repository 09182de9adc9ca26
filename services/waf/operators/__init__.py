"""SecLang operators, one module each, all registered in :data:`OPERATORS`."""

# Registration order is the order error messages list the operators in: the common ones first.
from services.waf.operators import rx, pm  # noqa: F401, I001
from services.waf.operators import (  # noqa: F401  (modules register themselves)
    begins_with,
    contains,
    detect_sqli,
    detect_xss,
    ends_with,
    eq,
    ge,
    gt,
    le,
    lt,
    no_match,
    streq,
    unconditional_match,
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
