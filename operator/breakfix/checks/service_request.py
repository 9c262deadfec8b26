"""`serviceRequest`: a real request through a Service's cluster IP, sent from a short-lived client
pod in the lab namespace: a TCP connect, or an HTTP GET of `path` whose answer may have to
contain `contains`. The request goes through kube-proxy, the Service's real endpoints and the
namespace's NetworkPolicies, as the lab's own clients' requests do.

Readiness and endpoints are proxies for "the Service answers": a container whose command was
replaced by a bare listener is Ready and an endpoint, yet serves nothing; a stray pod with the
Service's labels is an endpoint too. The answer itself is the outcome.

The operator runs the client pod (kube/gather.py) and keeps its answer while the Service, its
EndpointSlices and the namespace's NetworkPolicies stay as they were, for at most
`ANSWER_SECONDS`: the pod's own events wake the lab, and must not start another pod. A failed
answer is kept for less, growing from `RETRY_SECONDS`: kube-proxy programs a node's rules a
moment after the EndpointSlices change, so a request sent right after a fix may still fail,
and nothing else in the namespace changes to ask again."""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from pydantic import Field, model_validator

from breakfix import GROUP
from breakfix.checks.check_type import CheckType, Reads, Verdict
from breakfix.checks.diagnose import live, name_of
from breakfix.checks.snapshot import (
    Need,
    Obj,
    ObjectsNeed,
    RequestAnswer,
    RequestNeed,
    Snapshot,
)

PROBE_LABEL = f"{GROUP}/probe"
PROBE_IMAGE = "busybox:1.36"
EXIT_MARK = "breakfix-exit="
ATTEMPT_MARK = "breakfix-attempt="
ANSWER_SECONDS = 60.0
RETRY_SECONDS = 2.0
OUTPUT_LIMIT = 400


# The client pod: created, read until it has finished, its log read, deleted.
CLIENT_POD_READS = (
    Reads("v1", "pods", ("get", "create", "delete")),
    Reads("v1", "pods/log", ("get",)),
)


class ServiceRequestCheck(CheckType):
    key: ClassVar[str] = "serviceRequest"
    reads: ClassVar[tuple[Reads, ...]] = (
        Reads("v1", "services", kind="Service"),
        Reads("discovery.k8s.io/v1", "endpointslices", kind="EndpointSlice"),
        Reads("networking.k8s.io/v1", "networkpolicies", kind="NetworkPolicy"),
        *CLIENT_POD_READS,
    )

    service: str
    port: int | str | None = Field(
        None, description="The Service port (number or name) to dial; the first one if unset."
    )
    path: str | None = Field(
        None, description="Send an HTTP GET of this path (else only connect over TCP)."
    )
    contains: str | None = Field(None, description="The HTTP answer must contain this text.")
    attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Requests sent, each on a new connection; every one must succeed (and "
        "contain `contains`), so a bad endpoint behind the Service is found.",
    )
    why: str | None = Field(None, description="Told to the learner when the check fails.")
    namespace: str | None = None

    @model_validator(mode="after")
    def _contains_needs_http(self) -> ServiceRequestCheck:
        if self.contains is not None and self.path is None:
            raise ValueError("contains needs path: only an HTTP request has an answer to read")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError("path must start with /")
        return self

    def _need(self, namespace: str) -> RequestNeed:
        return RequestNeed(
            self.namespace or namespace,
            self.service,
            self.port,
            self.path,
            self.attempts,
            self.contains,
        )

    def needs(self, namespace: str) -> list[Need]:
        ns = self.namespace or namespace
        return [
            ObjectsNeed("v1", "Service", ns),
            ObjectsNeed("discovery.k8s.io/v1", "EndpointSlice", ns),
            ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", ns),
            self._need(namespace),
        ]

    def verdict(self, snapshot: Snapshot, namespace: str) -> Verdict:
        ns = self.namespace or namespace
        service = find_service(snapshot, ns, self.service)
        why = f" ({self.why})" if self.why else ""
        if service is None:
            return Verdict(False, f"no Service named {self.service} in namespace {ns}{why}")
        target = resolve_target(service, self.port)
        if isinstance(target, str):
            return Verdict(False, f"Service {self.service}: {target}{why}")
        answer = snapshot.requests.get(self._need(namespace))
        what = describe_request(self.service, target, self.path, ns)
        return judge(answer, what, self.path is not None, self.contains, why)


def judge(
    answer: RequestAnswer | None, what: str, http: bool, contains: str | None, why: str
) -> Verdict:
    """The verdict on a client pod's answer, looked at again when the answer goes stale."""
    if answer is None:
        return Verdict(False, f"{what}: no answer from the client pod yet")
    recheck = answer.at + answer.fresh_for if answer.at and answer.fresh_for else None
    n, _, of = answer.attempt.partition("/")
    which = f"request {n} of {of}: " if n and n != "1" else ""
    if not answer.ok:
        return Verdict(False, f"{what}: {which}{answer.output or 'no answer'}{why}", recheck)
    if contains is not None and contains not in answer.output:
        return Verdict(
            False,
            f"{what}: {which}answered {shorten(answer.output)!r}, which does not contain "
            f"{contains!r}{why}",
            recheck,
        )
    said = f" {shorten(answer.output)!r}" if http else ""
    times = f" ({of} times)" if of and of != "1" else ""
    return Verdict(True, f"{what}: answered{said}{times}")


def answer_lifetime(ok: bool, failures: int) -> float:
    """How long an answer stands while its inputs are unchanged: a success for
    `ANSWER_SECONDS`; the `failures`-th failure in a row (from 1) for `RETRY_SECONDS`, doubled
    each time, up to `ANSWER_SECONDS`, so a lab left broken costs one client pod a minute."""
    if ok:
        return ANSWER_SECONDS
    return min(ANSWER_SECONDS, RETRY_SECONDS * float(2 ** max(0, failures - 1)))


def find_service(snapshot: Snapshot, namespace: str, name: str) -> Obj | None:
    return next(
        (s for s in live(snapshot.list("v1", "Service", namespace)) if name_of(s) == name), None
    )


def resolve_target(service: Obj, port: int | str | None) -> tuple[str, int] | str:
    """The cluster IP and port to dial, or why there is none."""
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP")
    if not ip or ip == "None":
        return "it has no cluster IP (a headless Service)"
    ports = spec.get("ports") or []
    if not ports:
        return "it has no ports"
    if port is None:
        return str(ip), int(ports[0]["port"])
    for p in ports:
        if p.get("port") == port or (p.get("name") and p.get("name") == port):
            return str(ip), int(p["port"])
    listed = ", ".join(str(p.get("port")) for p in ports)
    return f"it has no port {port} (it has {listed})"


def describe_request(service: str, target: tuple[str, int], path: str | None, ns: str) -> str:
    ip, port = target
    if path is None:
        return f"TCP connect to Service {service} ({ip}:{port}) from a pod in {ns}"
    return f"GET http://{ip}:{port}{path} (Service {service}) from a pod in {ns}"


def probe_script(
    target: tuple[str, int],
    path: str | None,
    attempts: int = 1,
    contains: str | None = None,
    host: str | None = None,
) -> str:
    """The client's shell script: up to `attempts` requests, stopping at the first that fails
    (status 3 for an HTTP status other than 2xx, 2 when answered without `contains`); then
    that output, `breakfix-attempt=<n>/<of>` and `breakfix-exit=<status>`. With `host`, the
    request carries that Host header.

    HTTP is spoken through `nc`, as the labs' own probes do: busybox's `wget -T` crashes
    (SIGSEGV) in the static build the test cluster uses."""
    ip, port = target
    if path is None:
        request = f"nc -w 3 {ip} {port} </dev/null"
        status = ""
    elif host is not None:
        # Through a proxy (an ingress controller), which cancels a request whose client
        # closed its side, as nc does when its input ends: wget waits for the answer, and
        # fails on a status other than 2xx itself.
        url = f"http://{ip}:{port}{path}"
        request = (
            f"timeout 5 wget -q -O - --header {shlex.quote(f'Host: {host}')} {shlex.quote(url)}"
        )
        status = ""
    else:
        get = f"GET {path} HTTP/1.0\\r\\n\\r\\n"
        request = f"printf {shlex.quote(get)} | nc -w 3 {ip} {port}"
        status = '; [ $rc -ne 0 ] || case "$out" in "HTTP/1."?" 2"*) ;; *) rc=3;; esac'
    check = ""
    if contains is not None:
        check = f'; [ $rc -ne 0 ] || case "$out" in *{shlex.quote(contains)}*) ;; *) rc=2;; esac'
    return (
        f"i=0; rc=0; while [ $i -lt {attempts} ] && [ $rc -eq 0 ]; do i=$((i+1)); "
        f"out=$({request} 2>&1); rc=$?{status}{check}; done; "
        'printf "%s\\n" "$out" | head -c 2000; '
        f'echo "{ATTEMPT_MARK}$i/{attempts}"; echo "{EXIT_MARK}$rc"'
    )


def probe_pod(
    name: str,
    target: tuple[str, int],
    path: str | None,
    attempts: int = 1,
    contains: str | None = None,
    host: str | None = None,
) -> Obj:
    """A client pod that passes the `restricted` Pod Security level and asks for little, so it
    is admitted in any lab namespace; it labels itself so no lab selector matches it."""
    container: dict[str, Any] = {
        "name": "request",
        "image": PROBE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", probe_script(target, path, attempts, contains, host)],
        "resources": {
            "requests": {"cpu": "10m", "memory": "8Mi"},
            "limits": {"cpu": "100m", "memory": "16Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {PROBE_LABEL: "service-request"}},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
        },
    }


def parse_probe_log(log: str, target: tuple[str, int], at: float) -> RequestAnswer:
    """The answer from the client pod's log: its output, and whether the request succeeded."""
    ip, port = target
    body, mark, rest = log.rpartition(EXIT_MARK)
    if not mark:
        output = log.strip() or "the client pod printed nothing"
        return RequestAnswer(False, shorten(output), f"{ip}:{port}", at)
    status = rest.strip().split()[0] if rest.strip() else ""
    # 2: the request was answered, but without the text asked for; the verdict says so.
    ok = status in ("0", "2")
    text, mark, rest = body.rpartition(ATTEMPT_MARK)
    attempt = rest.strip() if mark else ""
    output = (text if mark else body).strip()
    if output.startswith("HTTP/"):
        # An HTTP answer: its status line, then the body after the headers.
        lines = output.replace("\r\n", "\n").split("\n")
        blank = lines.index("") if "" in lines else len(lines)
        page = "\n".join(lines[blank + 1 :]).strip()
        output = page if ok else f"the server answered {lines[0].strip()}"
    elif status == "3":
        # Connected, but what came back is no HTTP answer (a bare listener, another protocol).
        output = "no HTTP answer: " + (
            repr(shorten(output)) if output else "the connection closed without a status line"
        )
    if not ok and not output:
        output = f"the request failed (exit status {status})"
    return RequestAnswer(ok, output[:2000], f"{ip}:{port}", at, attempt)


def answer_key(service: Obj, slices: list[Obj], policies: list[Obj]) -> tuple[Any, ...]:
    """What an answer depends on: while none of these changed, a new request would answer
    the same (the backend pods' readiness shows in the slices)."""

    name = name_of(service)
    own = [
        s
        for s in slices
        if (s.get("metadata", {}).get("labels") or {}).get("kubernetes.io/service-name") == name
    ]
    return versions([service]), versions(own), versions(policies)


def versions(objects: list[Obj]) -> tuple[tuple[str, str], ...]:
    """The identity and version of each object: equal while none of them changed."""

    def version(o: Obj) -> tuple[str, str]:
        meta = o.get("metadata") or {}
        return str(meta.get("uid")), str(meta.get("resourceVersion"))

    return tuple(sorted(version(o) for o in objects))


def shorten(text: str, limit: int = OUTPUT_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
