"""`python -m pantau.agent.configcheck FILE`: validate an agent config, print it as JSON.

The agent runs this as a short-lived child at start (agent/settings.py), so the config models
and pydantic live and die in the child and never in the long-running agent. Exit 0 with the
validated config (every default filled in) on stdout; exit 2 with the one-line ConfigError a
technician reads on stderr.
"""

from __future__ import annotations

import json
import sys

from pantau.agent.config import load_agent_config
from pantau.agent.settings import to_plain
from pantau.shared.errors import ConfigError


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m pantau.agent.configcheck FILE", file=sys.stderr)
        return 64
    try:
        config = load_agent_config(argv[0])
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    json.dump(to_plain(config), sys.stdout, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
