"""serviceRequest: a real request through the Service's cluster IP from a client pod; here its
pure parts: where it dials, what the client runs, how its log is read, when an answer is
reused, and what the learner is told."""

import pytest
from pydantic import ValidationError

from breakfix.checks.check import Check, evaluate
from breakfix.checks.service_request import (
    ANSWER_SECONDS,
    ATTEMPT_MARK,
    EXIT_MARK,
    PROBE_LABEL,
    answer_key,
    answer_lifetime,
    parse_probe_log,
    probe_pod,
    probe_script,
    resolve_target,
)
from breakfix.checks.snapshot import ObjectsNeed, RequestAnswer, RequestNeed, Snapshot

NS = "lab-t"


def req_check(**body: object) -> Check:
    return Check.model_validate(
        {"name": "r", "description": "d", "serviceRequest": {"service": "api", **body}}
    )


def service(ip: str = "10.96.0.12", ports: list[dict] | None = None, rv: str = "1") -> dict:
    return {
        "metadata": {"name": "api", "namespace": NS, "uid": "u1", "resourceVersion": rv},
        "spec": {
            "clusterIP": ip,
            "ports": ports if ports is not None else [{"name": "http", "port": 80}],
        },
    }


def snapshot(answer: RequestAnswer | None, need: RequestNeed, svc: dict | None = None) -> Snapshot:
    snap = Snapshot(now=100.0)
    snap.objects[ObjectsNeed("v1", "Service", NS)] = [svc or service()]
    if answer is not None:
        snap.requests[need] = answer
    return snap


def test_needs_the_service_its_slices_policies_and_a_request() -> None:
    assert req_check(path="/", port="http").needs(NS) == [
        ObjectsNeed("v1", "Service", NS),
        ObjectsNeed("discovery.k8s.io/v1", "EndpointSlice", NS),
        ObjectsNeed("networking.k8s.io/v1", "NetworkPolicy", NS),
        RequestNeed(NS, "api", "http", "/", 3, None),
    ]


def test_contains_needs_an_http_path() -> None:
    with pytest.raises(ValidationError, match="contains needs path"):
        req_check(contains="ok")
    with pytest.raises(ValidationError, match="path must start with /"):
        req_check(path="index.html")


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (None, ("10.96.0.12", 80)),
        (80, ("10.96.0.12", 80)),
        ("http", ("10.96.0.12", 80)),
        (8080, "it has no port 8080 (it has 80)"),
    ],
)
def test_target_is_the_cluster_ip_and_a_service_port(
    port: int | str | None, expected: object
) -> None:
    assert resolve_target(service(), port) == expected


def test_a_headless_service_has_nothing_to_dial() -> None:
    assert resolve_target(service(ip="None"), None) == "it has no cluster IP (a headless Service)"


def test_the_client_dials_the_ip_never_a_name() -> None:
    # busybox's wget cannot resolve names on the test cluster; a numeric address needs no DNS.
    assert "nc -w 3 10.96.0.12 80 </dev/null" in probe_script(("10.96.0.12", 80), None)
    script = probe_script(("10.96.0.12", 80), "/healthz", 3, "api ok")
    # HTTP through nc, as the labs' probes: busybox's `wget -T` crashes in the static build.
    assert "printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | nc -w 3 10.96.0.12 80" in script
    assert '"HTTP/1."?" 2"*) ;; *) rc=3;;' in script
    # Every attempt must answer, with the text: one good endpoint among bad ones is not luck.
    assert "while [ $i -lt 3 ] && [ $rc -eq 0 ]" in script
    assert "*'api ok'*) ;; *) rc=2;;" in script
    assert script.endswith(f'echo "{ATTEMPT_MARK}$i/3"; echo "{EXIT_MARK}$rc"')


def test_the_client_pod_passes_restricted_and_matches_no_lab_selector() -> None:
    pod = probe_pod("breakfix-request-ab", ("10.96.0.12", 80), None, 3)
    assert pod["metadata"]["labels"] == {PROBE_LABEL: "service-request"}
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = spec["containers"][0]["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize(
    ("log", "ok", "output", "attempt"),
    [
        (f"api ok\n{ATTEMPT_MARK}3/3\n{EXIT_MARK}0\n", True, "api ok", "3/3"),
        (f"\n{ATTEMPT_MARK}1/1\n{EXIT_MARK}0\n", True, "", "1/1"),
        # Answered, but not with the text asked for: the verdict compares.
        (f"standin\n{ATTEMPT_MARK}2/3\n{EXIT_MARK}2\n", True, "standin", "2/3"),
        (
            "nc: can't connect to remote host (10.96.0.12): Connection refused\n"
            f"{ATTEMPT_MARK}1/3\n{EXIT_MARK}1\n",
            False,
            "nc: can't connect to remote host (10.96.0.12): Connection refused",
            "1/3",
        ),
        (
            f"\n{ATTEMPT_MARK}1/3\n{EXIT_MARK}1\n",
            False,
            "the request failed (exit status 1)",
            "1/3",
        ),
        ("", False, "the client pod printed nothing", ""),
        # A bare listener: connected, closed, no status line.
        (
            f"\n{ATTEMPT_MARK}1/3\n{EXIT_MARK}3\n",
            False,
            "no HTTP answer: the connection closed without a status line",
            "1/3",
        ),
        # HTTP answers, as nc prints them: the page without its headers, or the status line.
        (
            "HTTP/1.1 200 OK\r\nContent-type: text/html\r\n\r\napi ok\n\n"
            f"{ATTEMPT_MARK}3/3\n{EXIT_MARK}0\n",
            True,
            "api ok",
            "3/3",
        ),
        (
            "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n<HTML>404</HTML>\n"
            f"{ATTEMPT_MARK}1/3\n{EXIT_MARK}3\n",
            False,
            "the server answered HTTP/1.1 404 Not Found",
            "1/3",
        ),
    ],
)
def test_the_answer_is_read_from_the_client_log(
    log: str, ok: bool, output: str, attempt: str
) -> None:
    answer = parse_probe_log(log, ("10.96.0.12", 80), 5.0)
    assert (answer.ok, answer.output, answer.target, answer.at, answer.attempt) == (
        ok,
        output,
        "10.96.0.12:80",
        5.0,
        attempt,
    )


def test_an_answer_depends_on_the_service_its_own_slices_and_the_policies() -> None:
    def slice_(name: str, svc: str, rv: str) -> dict:
        labels = {"kubernetes.io/service-name": svc}
        return {"metadata": {"name": name, "uid": name, "resourceVersion": rv, "labels": labels}}

    base = answer_key(service(), [slice_("a", "api", "1"), slice_("o", "other", "1")], [])
    # Another Service's slice changing does not matter; this one's, the Service's and a policy's do.
    assert base == answer_key(service(), [slice_("a", "api", "1"), slice_("o", "other", "2")], [])
    assert base != answer_key(service(), [slice_("a", "api", "2")], [])
    assert base != answer_key(service(rv="2"), [slice_("a", "api", "1")], [])
    policy = {"metadata": {"uid": "p", "resourceVersion": "1"}}
    assert base != answer_key(service(), [slice_("a", "api", "1")], [policy])


def test_an_answer_that_contains_the_page_passes() -> None:
    check = req_check(path="/", contains="api ok")
    need = RequestNeed(NS, "api", None, "/", 3, "api ok")
    answer = RequestAnswer(True, "api ok", "10.96.0.12:80", 90, "3/3")
    result = evaluate(check, snapshot(answer, need), NS)
    assert result.passed
    assert result.message == (
        f"GET http://10.96.0.12:80/ (Service api) from a pod in {NS}: answered 'api ok' (3 times)"
    )


def test_a_bare_listener_that_answers_nothing_useful_fails_and_says_why() -> None:
    # The backend's command was replaced by a listener: Ready, an endpoint, but no page.
    check = req_check(path="/", contains="api ok", why="the app itself must answer")
    need = RequestNeed(NS, "api", None, "/", 3, "api ok")
    answer = RequestAnswer(
        False, "the server answered HTTP/1.1 404 Not Found", "10.96.0.12:80", 90.0, "1/3"
    )
    result = evaluate(check, snapshot(answer, need), NS)
    assert not result.passed
    assert result.message == (
        f"GET http://10.96.0.12:80/ (Service api) from a pod in {NS}: the server answered "
        "HTTP/1.1 404 Not Found (the app itself must answer)"
    )
    assert result.recheck_at == 90.0 + ANSWER_SECONDS


def test_another_answer_than_the_apps_fails() -> None:
    # A stray pod behind the Service answered the second request: one good answer is not enough.
    check = req_check(path="/", contains="api ok")
    need = RequestNeed(NS, "api", None, "/", 3, "api ok")
    answer = RequestAnswer(True, "hello from a stand-in", "10.96.0.12:80", 90.0, "2/3")
    result = evaluate(check, snapshot(answer, need), NS)
    assert not result.passed
    assert result.message.endswith(
        "request 2 of 3: answered 'hello from a stand-in', which does not contain 'api ok'"
    )


def test_refused_connection_fails() -> None:
    need = RequestNeed(NS, "api", None, None, 3, None)
    answer = RequestAnswer(False, "nc: can't connect to remote host", "10.96.0.12:80", 90.0)
    result = evaluate(req_check(), snapshot(answer, need), NS)
    assert not result.passed
    assert result.message == (
        f"TCP connect to Service api (10.96.0.12:80) from a pod in {NS}: nc: can't connect to "
        "remote host"
    )


def test_no_service_or_no_answer_fails() -> None:
    need = RequestNeed(NS, "api", None, None, 3, None)
    snap = Snapshot(now=1.0)
    snap.objects[ObjectsNeed("v1", "Service", NS)] = []
    assert evaluate(req_check(), snap, NS).message == f"no Service named api in namespace {NS}"
    result = evaluate(req_check(), snapshot(None, need), NS)
    assert not result.passed and result.message.endswith("no answer from the client pod yet")


def test_a_failed_answer_is_asked_again_soon_then_less_often() -> None:
    # kube-proxy programs the node a moment after the slices change: a request sent right
    # after a fix can fail, and must be asked again within seconds, not a minute later.
    assert [answer_lifetime(False, n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert answer_lifetime(True, 0) == 60


def test_a_failed_answer_wakes_the_lab_when_it_goes_stale() -> None:
    need = RequestNeed(NS, "api", None, None, 3, None)
    answer = RequestAnswer(False, "nc: timed out", "10.96.0.12:80", 90.0, fresh_for=2.0)
    result = evaluate(req_check(), snapshot(answer, need), NS)
    assert not result.passed and result.recheck_at == 92.0
