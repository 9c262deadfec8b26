"""The class dashboard in a real browser: Debian's headless Chromium, driven by Selenium through
Debian's chromedriver, on the operator's dashboard reached by `kubectl port-forward`. A fix
made on the cluster turns the lab green on the open page, without a reload."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from breakfix.cli.dashboard import to_dashboard
from breakfix.scenario.catalog import load_lab
from tests.integration.cluster import get_json, hack_kind, kubectl, wait_until
from tests.integration.labs import (
    apply_reference_solution,
    create_lab,
    delete_lab_and_wait_gone,
    wait_condition,
)
from tests.integration.operator import NAMESPACE, InClusterOperator
from tests.paths import LABS, ROOT

LABS_SHOWN = {"t-dash-ann": "crashloop-bad-command", "t-dash-bob": "image-wrong-tag"}
EXAM = "t-dash-exam"
ARTIFACTS = ROOT / "test-artifacts"
# Headless, and nothing that reaches for the network this machine does not have.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)


def port_forward(port: int) -> subprocess.Popen[str]:
    return to_dashboard(NAMESPACE, "breakfix", port, 8082)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard(operator: InClusterOperator) -> Iterator[str]:
    for name, scenario in LABS_SHOWN.items():
        create_lab(name, scenario, seed=8, learner={"kind": "User", "name": name[7:]})
    exam = {
        "apiVersion": "breakfix.dev/v1alpha1",
        "kind": "Exam",
        "metadata": {"name": EXAM},
        "spec": {
            "learner": {"kind": "User", "name": "cat"},
            "timeLimitMinutes": 30,
            "tasks": [{"scenario": "image-wrong-name", "weight": 5}],
        },
    }
    kubectl("delete", "exam", EXAM, "--ignore-not-found", "--wait=true", timeout=180)
    kubectl("apply", "-f", "-", input=json.dumps(exam))
    for name in LABS_SHOWN:
        wait_condition(name, "Ready", 180)
    port = free_port()
    forward = port_forward(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        forward.terminate()
        kubectl("delete", "exam", EXAM, "--ignore-not-found", "--wait=true", timeout=180)
        for name in LABS_SHOWN:
            delete_lab_and_wait_gone(name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = hack_kind("browser").strip().splitlines()[-1]
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def token() -> str:
    data = kubectl("-n", NAMESPACE, "get", "secret", "breakfix-dashboard",
                   "-o", "jsonpath={.data.token}").stdout  # fmt: skip
    return base64.b64decode(data).decode()


def test_without_the_token_nothing_is_shown(dashboard: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{dashboard}/", timeout=10)
    assert refused.value.code == 401
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{dashboard}/labs/t-dash-ann", timeout=10)


def test_a_fix_turns_green_on_the_open_page_without_a_reload(dashboard: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{dashboard}/?token={token()}")
    row = browser.find_element(By.ID, "lab-t-dash-ann")
    assert "Working" in row.text, row.text
    assert browser.find_element(By.ID, f"exam-{EXAM}")
    html = browser.page_source
    for scenario in LABS_SHOWN.values():
        spec = load_lab(LABS / scenario).spec
        for hint in spec.hints:
            assert hint.text[:40] not in html, f"{scenario}: a hint is on the page"
        assert spec.solution.explanation[:60] not in html, f"{scenario}: the solution is on it"
    browser.execute_script("window.notReloaded = true")

    apply_reference_solution("t-dash-ann")
    wait_condition("t-dash-ann", "Solved", 120)
    solved_at = time.monotonic()
    WebDriverWait(browser, 2, poll_frequency=0.05).until(
        lambda d: "Solved" in d.find_element(By.ID, "lab-t-dash-ann").text
    )
    took = time.monotonic() - solved_at
    assert browser.execute_script("return window.notReloaded") is True
    print(f"\nthe page showed the solve {took:.2f}s after the Lab's status did")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-class.png"))

    browser.get(f"{dashboard}/exams/{EXAM}")
    wait_until(lambda: "0/5" in browser.page_source or "5/5" in browser.page_source, 60,
               "the exam's points on its page")  # fmt: skip
    browser.save_screenshot(str(ARTIFACTS / "dashboard-exam.png"))


def dashboard_pods() -> set[str]:
    """The pods the dashboard's Service sends to, as kube-proxy and port-forward see them."""
    slices = get_json("endpointslices", "-n", NAMESPACE,
                      "-l", "kubernetes.io/service-name=breakfix-dashboard")  # fmt: skip
    return {
        e["targetRef"]["name"]
        for s in slices["items"]
        for e in s.get("endpoints") or []
        if e.get("conditions", {}).get("ready")
    }


def lease_holder_pod() -> str:
    lease = get_json("lease", "breakfix-operator", "-n", NAMESPACE)
    return str(lease["spec"].get("holderIdentity") or "").rsplit("_", 1)[0]


def test_with_a_standby_replica_the_dashboard_is_the_leaders(
    dashboard: str, operator: InClusterOperator
) -> None:
    """A standby serves no dashboard. With two replicas, the Service selects the one that holds
    the Lease, and the new leader once the first is gone."""
    operator.scale(2)
    try:
        wait_until(lambda: len(get_json("pods", "-n", NAMESPACE, "-l",
                                        "breakfix.dev/role=standby")["items"]) == 1,
                   90, "a standby replica")  # fmt: skip
        wait_until(lambda: dashboard_pods() == {lease_holder_pod()}, 30,
                   "the dashboard Service to select the leader alone")  # fmt: skip
        leader = lease_holder_pod()
        kubectl("-n", NAMESPACE, "delete", "pod", leader, "--grace-period=0", "--force")
        wait_until(lambda: lease_holder_pod() not in ("", leader), 60, "the standby to lead")
        wait_until(lambda: dashboard_pods() == {lease_holder_pod()}, 30,
                   "the Service to follow the new leader")  # fmt: skip
        port = free_port()
        forward = port_forward(port)
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", headers={"Authorization": f"Bearer {token()}"}
            )
            try:
                page = wait_until(lambda: _answer(request), 30, "the new leader's dashboard")
            except AssertionError as timeout:
                # A port-forward ends at the first connection its pod refuses: say so if it did.
                if forward.poll() is None:
                    raise
                raise AssertionError(
                    f"{timeout}; kubectl port-forward ended: {_said(forward)}"
                ) from timeout
            assert "t-dash-ann" in page
        finally:
            forward.terminate()
    finally:
        operator.scale(1)


def _said(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.read().strip()[-2000:]


def _answer(request: urllib.request.Request) -> str | None:
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError):
        return None
