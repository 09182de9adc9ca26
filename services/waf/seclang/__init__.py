"""SecLang (ModSecurity's rule language) reader: source positions, directives, actions, targets.

Reading produces a ConfigBuilder; :mod:`services.waf.engine.ruleset` freezes it into a RuleSet.
"""

from services.waf.seclang.errors import SecLangParseError

__all__ = ["SecLangParseError"]
