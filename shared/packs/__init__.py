"""Rule packs: one folder with a manifest, rule files and test cases, for the WAF, IPS or AV.

The life of a pack version, each step a ``secchain rules`` command::

    lint PACK        parse every file, report file:line:column (duplicate ids, unreachable rules,
                     the matching path of every regex, patterns a backtracking engine chokes on)
    test PACK        run the pack's cases through the real engine
    compile PACK     a content-addressed bundle: rule files + compiled matching databases
    publish PACK     lint + test + compile, then an immutable registry entry (who, when, changelog)

Sites pin published versions (``rulesets: [core@1.2.0]``); the data plane loads the bundle by
its hash. :mod:`shared.packs.manifest` describes the folder layout.
"""
