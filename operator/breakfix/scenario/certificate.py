"""TLS certificates for scenarios, made from their name alone: `certificate(host)` in a template.

A lab's site is named after its namespace (two labs on one cluster never share a host), so its
certificate cannot be a file in the lab's folder. It cannot be random either: a scenario is
rendered again at every grading (the invariants compare live objects with the rendering), and a
check trusts the very certificate the manifests hand out. So the key and the certificate derive
from the host: Ed25519, whose signatures are deterministic, and fixed validity dates.

Anyone who knows this function can make the key; that is no weakness in a lab, whose learner
holds the cluster anyway. What matters is that a certificate the learner makes (a new key, a
new self-signed certificate for the same name) is not this one, and a client that trusts this
one refuses it."""

from __future__ import annotations

import datetime
import functools
import hashlib

# Fixed, so the same host always renders the same certificate; long, so no lab outlives it.
NOT_BEFORE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER = datetime.datetime(2046, 1, 1, tzinfo=datetime.UTC)


@functools.lru_cache(maxsize=256)
def certificate(host: str, issuer: str = "breakfix lab certificates") -> dict[str, str]:
    """A self-signed certificate for `host` (its subject and only DNS name), with its key:
    `{"cert": PEM, "key": PEM}`. Another `issuer` gives another key and certificate for the
    same host (a certificate the site must not serve)."""
    # Imported here: only scenarios that hand out certificates pay for the library.
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.x509.oid import NameOID

    seed = hashlib.sha256(f"breakfix-certificate/{issuer}/{host}".encode()).digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    # A common name holds at most 64 characters; a lab's host may be longer, and clients go
    # by the DNS name anyway.
    common = [x509.NameAttribute(NameOID.COMMON_NAME, host)] if len(host) <= 64 else []
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer), *common])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(seed[:16], "big") >> 1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, None)
    )
    return {
        "cert": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "key": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
