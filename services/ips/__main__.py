"""``secchain ips`` / ``python -m services.ips``: ``run`` the inline IPS, ``replay`` a capture through
the same engine."""

from __future__ import annotations

import sys

USAGE = """usage: secchain ips COMMAND ...

commands:
  run      run the inline IPS (listeners from --config, or --listen/--upstream/--rules)
  replay   inspect a pcap/pcapng file and write EVE alert records (and optionally Kafka alerts)
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        from services.ips.server import main as run_main

        return run_main(rest)
    if command == "replay":
        from services.ips.replay import main as replay_main

        return replay_main(rest)
    print(f"secchain ips: unknown command {command!r}\n" + USAGE, file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
