"""HTTPS through the ingress controller, verified against the site's certificate: the
certificate a template hands out (scenario/certificate.py), the node agent's request
(agent/https.py) against a local TLS server, and the check's model."""

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from pydantic import ValidationError

from breakfix.agent.https import https_get
from breakfix.checks.check import Check
from breakfix.checks.snapshot import ObjectsNeed, RequestNeed
from breakfix.scenario.certificate import certificate
from breakfix.scenario.template import render_tree

HOST = "shop.lab-t.example.test"


def test_a_host_always_gets_the_same_certificate_and_another_issuer_another() -> None:
    first = certificate(HOST)
    assert first == certificate.__wrapped__(HOST)  # not only the cache: the same bytes
    other = certificate(HOST, issuer="someone else")
    assert other["cert"] != first["cert"] and other["key"] != first["key"]
    cert = x509.load_pem_x509_certificate(first["cert"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [HOST]


def test_a_template_renders_a_certificate_for_the_labs_host() -> None:
    rendered = render_tree(
        {"tls.crt": "{{ certificate(app ~ '.' ~ namespace ~ '.example.test').cert }}"},
        {"app": "shop", "namespace": "lab-t"},
        "manifests",
    )
    assert rendered["tls.crt"] == certificate(HOST)["cert"]


@asynccontextmanager
async def tls_server(
    tmp_path: Path, served: dict[str, str], status: int = 200
) -> AsyncIterator[int]:
    (tmp_path / "c.pem").write_text(served["cert"])
    (tmp_path / "k.pem").write_text(served["key"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(
            f"HTTP/1.0 {status} X\r\nContent-Type: text/plain\r\n\r\nwelcome to shop".encode()
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1]
    assert all(f"Host: {HOST}".encode() in request for request in seen)


async def test_the_sites_certificate_is_accepted_and_the_page_read(tmp_path: Path) -> None:
    site = certificate(HOST)
    async with tls_server(tmp_path, site) as port:
        answer = await https_get("127.0.0.1", port, HOST, "/", site["cert"], attempts=3)
    assert answer == {"ok": True, "status": 200, "output": "welcome to shop", "attempt": "3/3"}


async def test_another_certificate_for_the_same_name_is_refused_and_described(
    tmp_path: Path,
) -> None:
    """A learner's own self-signed certificate (or the controller's default one) names the
    site, or not, but is not the one the client trusts."""
    async with tls_server(tmp_path, certificate(HOST, issuer="a learner")) as port:
        answer = await https_get("127.0.0.1", port, HOST, "/", certificate(HOST)["cert"])
    assert not answer["ok"]
    assert f"a certificate for {HOST}" in answer["output"] and "a learner" in answer["output"]
    assert "refuses" in answer["output"]


async def test_the_sites_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    other = certificate("www.lab-t.example.test")
    async with tls_server(tmp_path, other) as port:
        answer = await https_get("127.0.0.1", port, HOST, "/", other["cert"])
    assert not answer["ok"] and "Hostname mismatch" in answer["output"]


async def test_a_status_other_than_2xx_fails(tmp_path: Path) -> None:
    site = certificate(HOST)
    async with tls_server(tmp_path, site, status=404) as port:
        answer = await https_get("127.0.0.1", port, HOST, "/", site["cert"], attempts=3)
    assert answer == {
        "ok": False,
        "status": 404,
        "output": "the server answered 404",
        "attempt": "1/3",
    }


async def test_nothing_listening_is_said() -> None:
    answer = await https_get("127.0.0.1", 1, HOST, "/", certificate(HOST)["cert"])
    assert not answer["ok"] and answer["output"].startswith("could not connect")


def https_check(**body: object) -> Check:
    return Check.model_validate(
        {"name": "tls", "description": "d", "ingressRequest": {"host": HOST, **body}}
    )


def test_https_goes_to_the_websecure_port_through_a_node_agent() -> None:
    check = https_check(scheme="https", trust=certificate(HOST)["cert"])
    need = next(n for n in check.body.needs("lab-t") if isinstance(n, RequestNeed))
    assert need.port == "websecure" and need.trust == certificate(HOST)["cert"]
    assert ObjectsNeed("v1", "Node", "") in check.body.needs("lab-t")


@pytest.mark.parametrize(
    "body",
    [
        {"scheme": "https"},
        {"trust": certificate(HOST)["cert"]},
        {"scheme": "https", "trust": "not a certificate"},
    ],
)
def test_https_and_trust_go_together(body: dict) -> None:
    with pytest.raises(ValidationError, match="trust"):
        https_check(**body)


def test_a_host_too_long_for_a_common_name_is_named_in_the_certificate_anyway() -> None:
    host = "status-staging.lab-selftest-ingress-tls-wrong-certificate-v12.corp.internal"
    cert = x509.load_pem_x509_certificate(certificate(host)["cert"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [host]
