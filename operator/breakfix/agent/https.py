"""An HTTPS request as a browser that trusts one certificate makes it: to an address (an
ingress controller's cluster IP, reached from the node), with the site's name as SNI and Host,
verifying that the certificate presented chains to the certificate given and names the site.

A busybox client in a lab pod cannot verify a certificate, and "the Ingress names the Secret"
is a proxy: the controller may not load it (a Secret of the wrong type, a key that does not
match, another name) and then serves its own default certificate. What was presented, and
whether a client that trusts the site's certificate accepts it, is the outcome."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

# Bytes of an answer kept: a status line, headers and the start of a page.
ANSWER_LIMIT = 64 * 1024
REQUEST_SECONDS = 5.0


def _http_answer(raw: bytes) -> tuple[int, str]:
    """The status code and the body of an HTTP/1.x answer (0 when it is none)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return 0, raw[:200].decode("utf-8", "replace")
    return int(parts[1]), body.decode("utf-8", "replace")


def unverified() -> ssl.SSLContext:
    """A client context that accepts any certificate: to read what a server presents, or a
    component's health endpoint behind a self-signed one."""
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    return insecure


async def presented(address: str, port: int, host: str) -> str:
    """Who the certificate the server presents for `host` names, for the learner to read."""
    from cryptography import x509

    insecure = unverified()
    try:
        async with asyncio.timeout(REQUEST_SECONDS):
            _, writer = await asyncio.open_connection(
                address, port, ssl=insecure, server_hostname=host
            )
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            writer.close()
    except (OSError, TimeoutError, ssl.SSLError):
        return "a certificate that could not be read"
    if not der:
        return "no certificate"
    cert = x509.load_der_x509_certificate(der)
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        dns = ", ".join(names.value.get_values_for_type(x509.DNSName)) or "no DNS name"
    except x509.ExtensionNotFound:
        dns = "no DNS name"
    return f"a certificate for {dns} (subject {cert.subject.rfc4514_string()})"


async def _get_once(
    address: str, port: int, host: str, request: bytes, context: ssl.SSLContext
) -> tuple[int, str]:
    """One request on a new connection: the HTTP status (0 for none) and the page, or why
    there is no answer."""
    try:
        async with asyncio.timeout(REQUEST_SECONDS):
            reader, writer = await asyncio.open_connection(
                address, port, ssl=context, server_hostname=host
            )
            writer.write(request)
            await writer.drain()
            raw = b""
            while len(raw) < ANSWER_LIMIT and (more := await reader.read(ANSWER_LIMIT)):
                raw += more
            writer.close()
    except ssl.SSLCertVerificationError as exc:
        shown = await presented(address, port, host)
        why = exc.verify_message or str(exc)
        return 0, (
            f"the server presented {shown}, which a client trusting the site's certificate "
            f"refuses ({why})"
        )
    except ssl.SSLError as exc:
        return 0, f"the TLS handshake failed: {exc.reason or exc}"
    except TimeoutError:
        return 0, f"no answer within {REQUEST_SECONDS:.0f}s"
    except OSError as exc:
        return 0, f"could not connect: {exc.strerror or exc}"
    status, page = _http_answer(raw)
    if not 200 <= status < 300:
        return status, f"the server answered {status}" if status else "no HTTP answer"
    return status, page


async def https_get(
    address: str, port: int, host: str, path: str, trust: str, attempts: int = 1
) -> dict[str, Any]:
    """GET https://`host``path` from `address`:`port`, `attempts` times on new connections,
    stopping at the first that fails: `{ok, status, output, attempt}`; `ok` when every answer
    came over a verified connection with a 2xx status."""
    try:
        context = ssl.create_default_context(cadata=trust)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"trust is not a PEM certificate: {exc}") from exc
    request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: breakfix\r\n\r\n".encode()
    status, output, attempt = 0, "", 0
    while attempt < attempts:
        attempt += 1
        status, output = await _get_once(address, port, host, request, context)
        if not 200 <= status < 300:
            break
    ok = 200 <= status < 300
    return {"ok": ok, "status": status, "output": output, "attempt": f"{attempt}/{attempts}"}
