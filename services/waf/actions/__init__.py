"""SecLang actions, one module per family, all registered in :data:`ACTIONS`."""

from services.waf.actions import (  # noqa: F401  (modules register themselves)
    ctl,
    data,
    disruptive,
    expirevar,
    flow,
    initcol,
    logging,
    meta,
    setvar,
)
from services.waf.actions.base import ACTIONS, ActionDef, RuleDraft, RuntimeAction

__all__ = ["ACTIONS", "ActionDef", "RuleDraft", "RuntimeAction"]
