"""The alert every secchain module emits: model, JSON Schema and validation."""

from shared.events.alert import (
    ACTIONS,
    MODULES,
    Alert,
    AlertValidationError,
    flatten,
    new_event_id,
    utc_now_iso,
    validate_alert,
)

__all__ = [
    "ACTIONS",
    "MODULES",
    "Alert",
    "AlertValidationError",
    "flatten",
    "new_event_id",
    "utc_now_iso",
    "validate_alert",
]
