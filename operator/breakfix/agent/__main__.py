"""`python -m breakfix.agent`: the node agent (see the package docstring)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from aiohttp import web

from breakfix.agent.server import make_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    root = Path(os.environ.get("BREAKFIX_HOST_ROOT", "/host"))
    token = Path(os.environ.get("BREAKFIX_AGENT_TOKEN_FILE", "/var/run/breakfix/token"))
    port = int(os.environ.get("BREAKFIX_AGENT_PORT", "10271"))
    # The node's own address: the agent shares the node's network, and listens on nothing else.
    host = os.environ.get("BREAKFIX_AGENT_ADDRESS", "0.0.0.0")
    web.run_app(make_app(root, token), host=host, port=port, print=None)


if __name__ == "__main__":
    main()
