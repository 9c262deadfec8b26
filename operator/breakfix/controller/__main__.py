"""`python -m breakfix.controller`: run the operator cluster-wide against the current kubeconfig
(or, in a pod, the in-cluster ServiceAccount)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys

import kopf
from kopf._core.engines.peering import Identity

import breakfix.controller.handlers  # noqa: F401  (registers the handlers)
from breakfix.controller import metrics, profile
from breakfix.controller.leader import run_elected
from breakfix.kube.client import Kube


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m breakfix.controller",
        description="The breakfix operator: provisions Labs and grades them live.",
        epilog="Only one operator acts at a time: the others wait as standbys, elected by the "
        "Lease breakfix-operator in BREAKFIX_LEASE_NAMESPACE (default breakfix-system). "
        "Environment: KUBECONFIG, BREAKFIX_SAFETY_SECONDS (re-check interval without "
        "events, default 300), BREAKFIX_POLL_SECONDS (benchmark baseline only), "
        "BREAKFIX_TRACEMALLOC (frames to trace; SIGUSR1 then logs where memory goes).",
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="serve Kopf's health probe, e.g. http://0.0.0.0:8081/healthz",
    )
    parser.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port"
    )
    parser.add_argument("--verbose", action="store_true", help="log every handler step")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    profile.start_from_env()
    kopf.configure(verbose=args.verbose)
    if args.metrics_port:
        metrics.serve(args.metrics_port)
    sys.exit(asyncio.run(serve(args)))


async def serve(args: argparse.Namespace) -> int:
    kube = await Kube.connect()
    profile.install_signal(asyncio.get_running_loop())

    async def operate(stop: asyncio.Event, ready: asyncio.Event) -> None:
        await kopf.operator(
            clusterwide=True,
            standalone=True,
            liveness_endpoint=args.liveness,
            identity=identity(),
            stop_flag=stop,
            ready_flag=ready,
        )

    try:
        return await run_elected(kube, operate, probe_url=args.liveness)
    finally:
        await kube.close()


def identity() -> Identity:
    """Who this operator is, for Kopf's logs and peering. Kopf's default asks the passwd database
    for the user's name, and the image's numeric user has no entry there: it crashed at start."""
    return Identity(f"breakfix@{socket.gethostname()}/{os.getpid()}")


if __name__ == "__main__":
    main()
