"""Running the operator inside the current event loop, for the self-test and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import kopf

from breakfix.controller.leader import leading_or_refused
from breakfix.kube.client import Kube


@contextlib.asynccontextmanager
async def inprocess_operator() -> AsyncIterator[None]:
    import breakfix.controller.handlers  # noqa: F401  (registers the handlers)

    kube = await Kube.connect()
    try:
        async with leading_or_refused(kube), _operator():
            yield
    finally:
        await kube.close()


@contextlib.asynccontextmanager
async def _operator() -> AsyncIterator[None]:
    ready, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(clusterwide=True, standalone=True, ready_flag=ready, stop_flag=stop)
    )
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        task.result()
        raise RuntimeError("the operator stopped before it was ready")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
