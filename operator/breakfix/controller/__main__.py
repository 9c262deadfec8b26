"""`python -m breakfix.controller`: run the operator cluster-wide against the current kubeconfig."""

from __future__ import annotations

import asyncio

import kopf

import breakfix.controller.handlers  # noqa: F401  (registers the handlers)


def main() -> None:
    kopf.configure(verbose=False)
    asyncio.run(kopf.operator(clusterwide=True, standalone=True))


if __name__ == "__main__":
    main()
