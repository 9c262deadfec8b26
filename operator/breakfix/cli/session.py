"""Connecting to the cluster for a command, and turning failures into plain messages."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import yaml

from breakfix import API_VERSION
from breakfix.kube.client import ApiException, ConfigException, Kube, ResourceNotFoundError

T = TypeVar("T")

CRDS_MISSING = (
    "the breakfix CRDs are not installed in this cluster: run `make install` "
    "(or install the Helm chart)"
)


class CliError(Exception):
    """A failure the user can act on: printed without a traceback."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@contextlib.asynccontextmanager
async def connect(kubeconfig: str | None, context: str | None) -> AsyncIterator[Kube]:
    try:
        kube = await Kube.connect(kubeconfig, context)
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as exc:
        raise CliError(
            f"no usable kubeconfig: {exc}. Set KUBECONFIG or pass --kubeconfig."
        ) from None
    try:
        yield kube
    except (TimeoutError, aiohttp.ClientConnectionError, OSError) as exc:
        host = kube.host
        raise CliError(
            f"cannot reach the Kubernetes API at {host}: {exc}. "
            "Is the cluster running (make cluster-up)?"
        ) from None
    except ResourceNotFoundError:
        raise CliError(CRDS_MISSING) from None
    finally:
        await kube.close()


def run(kubeconfig: str | None, context: str | None, body: Callable[[Kube], Awaitable[T]]) -> T:
    async def main() -> T:
        async with connect(kubeconfig, context) as kube:
            await kube.resource(API_VERSION, "Lab")  # fails early when the CRDs are missing
            return await body(kube)

    return asyncio.run(main())


async def get_lab(kube: Kube, name: str) -> dict[str, Any]:
    lab = await kube.get(API_VERSION, "Lab", name)
    if lab is None:
        raise CliError(f"no lab named {name!r}; `kubectl get labs` lists them", 2)
    return lab


async def get_scenario(kube: Kube, name: str) -> dict[str, Any]:
    scenario = await kube.get(API_VERSION, "Scenario", name)
    if scenario is None:
        raise CliError(f"no scenario named {name!r}; `breakfix list` shows the catalog", 2)
    return scenario


def parse_duration(text: str) -> float:
    """`90`, `90s`, `5m`, `1h30m` -> seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CliError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h)", 2)
    return sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)


def api_message(exc: ApiException) -> str:
    import json

    try:
        return str(json.loads(exc.body or b"").get("message", exc.reason))
    except ValueError:
        return f"{exc.status} {exc.reason}"
