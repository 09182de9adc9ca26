"""SecLang variables, one module per family, all registered in :data:`VARIABLES`."""

from services.waf.variables import (  # noqa: F401  (modules register themselves)
    args,
    body,
    connection,
    cookies,
    headers,
    matched,
    request_line,
    response,
    tx,
)
from services.waf.variables.base import VARIABLES, Pairs, RequestState, VariableDef, wire, wire_bytes

__all__ = ["VARIABLES", "Pairs", "RequestState", "VariableDef", "wire", "wire_bytes"]
