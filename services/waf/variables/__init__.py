"""SecLang variables, one module per family, all registered in :data:`VARIABLES`."""

from services.waf.variables import (  # noqa: F401  (modules register themselves)
    args,
    body,
    connection,
    cookies,
    headers,
    matched,
    multipart,
    persistent,
    request_line,
    response,
    time_vars,
    tx,
    xml,
)
from services.waf.variables.base import VARIABLES, Pairs, RequestState, VariableDef, wire, wire_bytes

__all__ = ["VARIABLES", "Pairs", "RequestState", "VariableDef", "wire", "wire_bytes"]
