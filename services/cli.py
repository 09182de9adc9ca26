"""The ``secchain`` command.

``secchain up`` runs the whole chain locally; ``secchain waf|api|indexer|demo-upstream`` run one
component (the supervisor uses the same entry points).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def _up_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="run the whole chain on this machine (Ctrl-C stops it)")
    p.add_argument("--data-dir", default="var", help="logs, spool, caches, the SQLite audit store (default: var)")
    p.add_argument("--tenancy", help="tenancy YAML to use instead of the generated demo tenant")
    p.add_argument("--store", choices=("sqlite", "opensearch"), default="sqlite")
    p.add_argument("--opensearch-url", help="with --store opensearch, e.g. http://127.0.0.1:9200")
    p.add_argument("--kafka", help="use this Kafka bootstrap instead of starting a local broker")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="WAF worker processes")
    p.add_argument("--api-port", type=int, default=8000)
    p.add_argument("--waf-port", type=int, default=8080)
    p.add_argument("--waf-admin-port", type=int, default=8180)
    p.add_argument("--upstream-port", type=int, default=8081)
    p.add_argument("--kafka-port", type=int, default=9092)
    p.add_argument("--indexer-port", type=int, default=8190)
    p.add_argument("--av-port", type=int, default=8090)
    p.add_argument("--clamd-port", type=int, default=3310)
    p.add_argument("--ips-port", type=int, default=9000, help="the demo tenant's IPS listener")
    p.add_argument("--ips-admin-port", type=int, default=9180)
    p.add_argument("--log-level", default="INFO")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="secchain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _up_parser(sub)
    for name, help_text in (("waf", "run the WAF; `secchain waf regress DIR` runs a CRS regression suite"), ("api", "run the audit search API"),
                            ("indexer", "run the audit indexer"), ("av", "run the antivirus scan service"),
                            ("demo-upstream", "run the demo echo upstream"),
                            ("rules", "rule packs: lint, test, compile, publish, shadow, promote, rollback, diff-report"),
                            ("ips", "run the inline IPS (`secchain ips run`) or replay a pcap (`secchain ips replay FILE`)")):
        sub.add_parser(name, help=help_text, add_help=False)
    from services.control.cli import COMMANDS as CONTROL_COMMANDS

    for name in CONTROL_COMMANDS:
        sub.add_parser(name, help=f"control plane: {name} (over the API; --help for details)", add_help=False)
    if not argv:
        parser.print_help()
        return 2
    command, rest = argv[0], argv[1:]
    if command in CONTROL_COMMANDS:
        from services.control.cli import main as control_main
        return control_main(argv)
    if command == "waf":
        if rest[:1] == ["regress"]:
            from services.waf.regress.cli import main as regress_main
            return regress_main(rest[1:])
        from services.waf.server import main as waf_main
        return waf_main(rest)
    if command == "rules":
        from services.packs.cli import main as rules_main
        return rules_main(rest)
    if command == "ips":
        from services.ips.__main__ import main as ips_main
        return ips_main(rest)
    if command == "api":
        from services.api.server import main as api_main
        return api_main(rest)
    if command == "indexer":
        from services.indexer.__main__ import main as indexer_main  # type: ignore[attr-defined]
        return indexer_main(rest) or 0
    if command == "av":
        from services.av.__main__ import main as av_main  # type: ignore[attr-defined]
        return av_main(rest) or 0
    if command == "demo-upstream":
        from services.demo_upstream.app import main as upstream_main
        upstream_main(rest)
        return 0
    args = parser.parse_args(argv)
    if args.command == "up":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s up: %(message)s")
        logging.getLogger("kafka").setLevel(logging.CRITICAL)  # reconnect chatter; the supervisor reports state
        from services.supervisor import run_up
        return run_up(args)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
