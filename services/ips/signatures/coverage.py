"""How much of a Suricata rule set this engine loads: ``python -m services.ips.signatures.coverage [DIR]``.

Prints enabled rules (not commented out), loaded, disabled by reason, syntax errors with their
first locations, and the load time. DIR defaults to ``/work/shared/et-open`` (ET Open, with its
``classification.config``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.ips.signatures.parser import RuleSet, load_rules

DEFAULT_DIR = Path("/work/shared/et-open")


def load_dir(directory: Path) -> RuleSet:
    classification = directory / "classification.config"
    return load_rules([directory], classification=classification if classification.exists() else None)


def report(rules: RuleSet, *, top: int = 25, errors: int = 10) -> str:
    enabled = rules.enabled
    loaded = len(rules.signatures)
    share = loaded / enabled if enabled else 0.0
    lines = [
        f"files:            {len(rules.files)}",
        f"enabled rules:    {enabled}  (commented out: {rules.commented})",
        f"loaded:           {loaded}  ({share:.2%})",
        f"disabled:         {len(rules.disabled)}",
        f"syntax errors:    {len(rules.errors)}",
        f"load time:        {rules.load_seconds:.2f} s",
    ]
    if rules.disabled:
        lines.append("disabled by reason:")
        for reason, count in rules.counts_by_reason().most_common(top):
            lines.append(f"  {count:6d}  {reason}")
    if rules.errors:
        lines.append("first syntax errors:")
        lines.extend(f"  {err}" for err in rules.errors[:errors])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--top", type=int, default=25, help="reasons to list")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"{args.directory}: not a directory", file=sys.stderr)
        return 2
    print(report(load_dir(args.directory), top=args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
