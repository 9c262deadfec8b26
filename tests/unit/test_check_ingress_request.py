"""ingressRequest: a real request through the ingress controller's Service, with the site's Host,
from a client pod in the lab namespace; here its pure parts: what it gathers, what the client
runs, when an answer is asked again, and what the learner is told."""

import subprocess

import pytest
from pydantic import ValidationError

from breakfix.checks.check import Check, evaluate
from breakfix.checks.service_request import probe_script
from breakfix.checks.snapshot import ObjectsNeed, RequestAnswer, RequestNeed, Snapshot

NS = "lab-t"
CTRL = "traefik"


def ingress_check(**body: object) -> Check:
    return Check.model_validate(
        {"name": "site", "description": "d", "ingressRequest": {"host": "shop.test", **body}}
    )


def controller(ports: list[dict] | None = None) -> dict:
    return {
        "metadata": {"name": "traefik", "namespace": CTRL, "uid": "c1", "resourceVersion": "1"},
        "spec": {"clusterIP": "10.96.0.50", "ports": ports or [{"name": "web", "port": 80}]},
    }


def request_need(check: Check) -> RequestNeed:
    return next(n for n in check.body.needs(NS) if isinstance(n, RequestNeed))


def snapshot(check: Check, answer: RequestAnswer | None, ctrl: dict | None = None) -> Snapshot:
    snap = Snapshot(now=100.0)
    for need in check.body.needs(NS):
        if isinstance(need, ObjectsNeed):
            snap.objects[need] = []
    snap.objects[ObjectsNeed("v1", "Service", CTRL)] = [ctrl] if ctrl else []
    if answer is not None:
        snap.requests[request_need(check)] = answer
    return snap


def test_the_client_runs_in_the_lab_and_dials_the_controller_with_the_host() -> None:
    need = request_need(ingress_check(path="/api/orders", contains="orders"))
    assert (need.namespace, need.service, need.client) == (CTRL, "traefik", NS)
    assert (need.host, need.path, need.contains) == ("shop.test", "/api/orders", "orders")


def test_the_answer_is_asked_again_when_the_labs_routes_change() -> None:
    """A fix edits an Ingress, a Service or its endpoints in the lab: each of those keys the
    answer, and is gathered so the key can be computed."""
    check = ingress_check()
    need = request_need(check)
    assert ("networking.k8s.io/v1", "Ingress", NS) in need.depends_on
    assert ("networking.k8s.io/v1", "IngressClass", "") in need.depends_on
    assert ("v1", "Service", NS) in need.depends_on
    gathered = {(n.api_version, n.kind, n.namespace) for n in check.body.needs(NS)
                if isinstance(n, ObjectsNeed)}  # fmt: skip
    assert set(need.depends_on) <= gathered
    assert ("v1", "Service", CTRL) in gathered


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"host": "Shop.Test"}, "host"),
        ({"host": "shop.test; rm -rf /"}, "host"),
        ({"path": "api"}, "path"),
        ({"path": "/a b"}, "path"),
        ({"controller": "traefik"}, "controller"),
    ],
)
def test_bad_input_is_refused_naming_the_field(body: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ingress_check(**body)


def test_no_controller_says_so() -> None:
    check = ingress_check()
    verdict = evaluate(check, snapshot(check, None), NS)
    assert not verdict.passed
    assert "no ingress controller" in verdict.message


def test_a_404_from_the_controller_fails_with_what_it_said() -> None:
    check = ingress_check()
    answer = RequestAnswer(
        False, "wget: server returned error: HTTP/1.1 404 Not Found", "10.96.0.50:80", 99.0,
        fresh_for=2.0,
    )  # fmt: skip
    verdict = evaluate(check, snapshot(check, answer, controller()), NS)
    assert not verdict.passed
    assert (
        "GET http://shop.test/ through the ingress controller (traefik/traefik)" in verdict.message
    )
    assert "404 Not Found" in verdict.message
    assert verdict.recheck_at == 101.0


def test_the_page_must_hold_the_text() -> None:
    check = ingress_check(contains="welcome to shop")
    retired = RequestAnswer(True, "this shop site is retired", "10.96.0.50:80", 99.0, "4/4")
    assert not evaluate(check, snapshot(check, retired, controller()), NS).passed
    served = RequestAnswer(True, "welcome to shop", "10.96.0.50:80", 99.0, "4/4")
    verdict = evaluate(check, snapshot(check, served, controller()), NS)
    assert verdict.passed, verdict.message
    assert "(4 times)" in verdict.message


def test_a_controller_port_that_does_not_exist_is_named() -> None:
    check = ingress_check(port="websecure")
    verdict = evaluate(check, snapshot(check, None, controller()), NS)
    assert not verdict.passed
    assert "has no port websecure" in verdict.message


def test_the_script_sends_the_host_and_fails_on_an_error_status(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Run against a fake `wget` on PATH: the script must pass the Host header and the URL, and
    report wget's failure (a 404) as a failed attempt."""
    wget = tmp_path / "wget"
    wget.write_text(
        '#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\n'
        'echo "wget: server returned error: HTTP/1.1 404 Not Found" >&2; exit 1\n'
    )
    wget.chmod(0o755)
    script = probe_script(("10.96.0.50", 80), "/api", 2, None, "shop.test")
    out = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, check=False,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
    ).stdout  # fmt: skip
    assert (tmp_path / "args").read_text().split() == [
        "-q",
        "-O",
        "-",
        "--header",
        "Host:",
        "shop.test",
        "http://10.96.0.50:80/api",
    ]
    assert "404 Not Found" in out
    assert "breakfix-attempt=1/2" in out
    assert "breakfix-exit=1" in out


def test_a_site_published_by_the_gateway_api_is_asked_again_when_its_routes_change() -> None:
    need = request_need(ingress_check(api="Gateway"))
    kinds = {kind for _, kind, _ in need.depends_on}
    assert {"Gateway", "HTTPRoute", "ReferenceGrant", "Service", "EndpointSlice"} <= kinds
    assert "Ingress" not in kinds
    with pytest.raises(ValidationError, match="api"):
        ingress_check(api="Route")
