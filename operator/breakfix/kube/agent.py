"""The operator's side of the node agent (`breakfix.agent`): HTTP to the agent on a node's own
address, with the token both read from the chart's Secret. Needs no API server, so it works
while a lab has the API server or the node's kubelet down."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from breakfix.scenario.models import NodeChanges

Obj = dict[str, Any]


class AgentError(RuntimeError):
    pass


def node_address(node: Obj) -> str | None:
    for address in node.get("status", {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address["address"])
    return None


@dataclass(frozen=True)
class AgentClient:
    token_file: Path
    port: int = 10271
    timeout: float = 60.0

    @classmethod
    def from_env(cls) -> AgentClient:
        return cls(
            Path(os.environ.get("BREAKFIX_AGENT_TOKEN_FILE", "/var/run/breakfix/token")),
            int(os.environ.get("BREAKFIX_AGENT_PORT", "10271")),
        )

    def _token(self) -> str:
        try:
            return self.token_file.read_text().strip()
        except FileNotFoundError:
            raise AgentError(
                f"no node agent token at {self.token_file}: labs that change a node need the "
                "chart's node agent (agent.enabled) and the operator running from the chart"
            ) from None

    async def _call(self, method: str, address: str, path: str, body: Any = None) -> Any:
        url = f"http://{address}:{self.port}{path}"
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session,
                session.request(method, url, json=body, headers=headers) as response,
            ):
                text = await response.text()
                try:
                    answer = json.loads(text)
                except ValueError:
                    answer = {"error": f"HTTP {response.status}: {text[:200]}"}
                if response.status >= 400:
                    error = answer.get("error") if isinstance(answer, dict) else None
                    raise AgentError(f"node agent at {address}: {error or response.status}")
                return answer
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise AgentError(f"node agent at {address} does not answer: {exc}") from exc

    async def apply(self, address: str, lab: str, changes: NodeChanges) -> Obj:
        host_only = changes.model_dump(
            by_alias=True,
            include={
                "role",
                "files",
                "services",
                "restart_containers",
                "order",
                "restore_after_seconds",
            },
        )
        return dict(await self._call("PUT", address, f"/labs/{lab}", host_only))

    async def restore(self, address: str, lab: str) -> bool:
        return bool((await self._call("DELETE", address, f"/labs/{lab}"))["restored"])

    async def journals(self, address: str) -> list[Obj]:
        return list(await self._call("GET", address, "/labs"))

    async def read_file(self, address: str, path: str) -> str | None:
        answer = await self._call("GET", address, f"/files?path={quote(path)}")
        return None if answer.get("content") is None else str(answer["content"])

    async def whoami(self, address: str, kubeconfig: str, get: str = "") -> Obj:
        query = f"kubeconfig={quote(kubeconfig)}" + (f"&get={quote(get)}" if get else "")
        return dict(await self._call("GET", address, f"/whoami?{query}"))

    async def audited(self, address: str, kubeconfig: str, get: str, log: str) -> Obj:
        query = f"kubeconfig={quote(kubeconfig)}&get={quote(get)}&log={quote(log)}"
        return dict(await self._call("GET", address, f"/audited?{query}"))

    async def snapshot(self, address: str, path: str, markers: tuple[str, ...]) -> Obj:
        query = f"path={quote(path)}" + "".join(f"&marker={quote(m)}" for m in markers)
        return dict(await self._call("GET", address, f"/snapshot?{query}"))

    async def dry_run_patch(self, address: str, kubeconfig: str, path: str, body: Obj) -> Obj:
        given = {"kubeconfig": kubeconfig, "path": path, "body": body}
        return dict(await self._call("POST", address, "/dry-run-patch", given))

    async def probe(self, address: str, url: str) -> tuple[int, str]:
        answer = await self._call("GET", address, f"/probe?url={quote(url)}")
        return int(answer["status"]), str(answer["body"])

    async def https_get(
        self, address: str, target: tuple[str, int], host: str, path: str, trust: str, attempts: int
    ) -> Obj:
        """An HTTPS request the agent makes from its node (agent/https.py)."""
        given = {
            "address": target[0],
            "port": target[1],
            "host": host,
            "path": path,
            "trust": trust,
            "attempts": attempts,
        }
        return dict(await self._call("POST", address, "/https-get", given))
