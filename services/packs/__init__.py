"""Service glue of rule packs: the registry's REST routes, shadow evaluation, the ``secchain rules`` CLI."""
