"""`breakfix learner-kubeconfig`: credentials for the learner of a Lab or an Exam, and nothing more.

A User learner gets a client certificate the cluster itself signs (a CertificateSigningRequest
for kube-apiserver-client, approved by whoever runs this, with an expiry); a ServiceAccount
learner a bound token (TokenRequest). Either way the rights are the ones the operator grants
that learner: admin in each lab namespace, read on their own Labs and on Nodes. The key never
leaves this machine."""

from __future__ import annotations

import asyncio
import base64
import secrets
from pathlib import Path
from typing import Any

import yaml

from breakfix import API_VERSION
from breakfix.cli.session import CliError
from breakfix.exam.decide import EXAM_LABEL
from breakfix.kube.client import Kube, wait_for
from breakfix.scenario.template import namespace_for

SIGNER = "kubernetes.io/kube-apiserver-client"
CSR_API = "certificates.k8s.io/v1"


async def learner_of(kube: Kube, lab: str | None, exam: str | None) -> tuple[dict[str, Any], str]:
    """The learner, and the namespace their kubeconfig starts in."""
    kind, name = ("Exam", exam) if exam else ("Lab", lab)
    if not name:
        raise CliError("name a lab, or an exam with --exam", 2)
    obj = await kube.get(API_VERSION, kind, name)
    if obj is None:
        raise CliError(f"no {kind} named {name}", 2)
    learner = (obj.get("spec") or {}).get("learner")
    if not learner:
        raise CliError(
            f"{kind.lower()} {name} has no spec.learner: set one when creating it, so the "
            "operator knows whom to grant the lab",
            2,
        )
    if exam:
        labs = await kube.list_objects(API_VERSION, "Lab", label_selector=f"{EXAM_LABEL}={exam}")
        first = sorted(lab["metadata"]["name"] for lab in labs)
        return dict(learner), namespace_for(first[0]) if first else "default"
    return dict(learner), namespace_for(name)


async def user_certificate(kube: Kube, user: str, seconds: int) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for `user`, signed by the cluster."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
        .sign(key, hashes.SHA256())
    )
    name = f"breakfix-learner-{user.lower()[:30]}-{secrets.token_hex(3)}"
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
            "signerName": SIGNER,
            "expirationSeconds": seconds,
            "usages": ["client auth"],
        },
    }
    await kube.apply(csr)
    try:
        current = await kube.get(CSR_API, "CertificateSigningRequest", name)
        assert current is not None
        current.setdefault("status", {})["conditions"] = [
            {
                "type": "Approved",
                "status": "True",
                "reason": "BreakfixLearnerKubeconfig",
                "message": f"credentials for learner {user}, from `breakfix learner-kubeconfig`",
            }
        ]
        res = await kube.resource(CSR_API, "CertificateSigningRequest")
        await kube.call("PUT", res.path(name, subresource="approval"), body=current)
        signed = await wait_for(
            kube,
            "certificates.k8s.io/v1",
            "CertificateSigningRequest",
            name,
            lambda o: bool(((o or {}).get("status") or {}).get("certificate")),
            60,
        )
    except TimeoutError:
        raise CliError(
            "the cluster did not sign the certificate within 60 s: is kube-controller-manager "
            "running with a cluster signing key?"
        ) from None
    finally:
        await kube.delete("certificates.k8s.io/v1", "CertificateSigningRequest", name)
    cert = base64.b64decode((signed or {})["status"]["certificate"])
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert, pem


async def service_account_token(kube: Kube, namespace: str, name: str, seconds: int) -> str:
    if await kube.get("v1", "ServiceAccount", name, namespace) is None:
        raise CliError(f"no ServiceAccount {name} in namespace {namespace}", 2)
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": [], "expirationSeconds": seconds},
    }
    res = await kube.resource("v1", "ServiceAccount")
    answer = await kube.call("POST", res.path(name, namespace, "token"), body=request)
    return str(answer["status"]["token"])


def kubeconfig(
    server: str, ca: bytes, who: str, namespace: str, credentials: dict[str, str]
) -> dict[str, Any]:
    context = f"{who}@breakfix"
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "breakfix",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": who, "user": credentials}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": "breakfix", "user": who, "namespace": namespace},
            }
        ],
        "current-context": context,
    }


async def learner_kubeconfig(
    kube: Kube, lab: str | None, exam: str | None, hours: float, out: Path | None
) -> str:
    learner, namespace = await learner_of(kube, lab, exam)
    seconds = max(600, int(hours * 3600))
    if learner["kind"] == "User":
        cert, key = await user_certificate(kube, learner["name"], seconds)
        credentials = {
            "client-certificate-data": base64.b64encode(cert).decode(),
            "client-key-data": base64.b64encode(key).decode(),
        }
    else:
        token = await service_account_token(kube, learner["namespace"], learner["name"], seconds)
        credentials = {"token": token}
    ca = kube.connection.ca_pem
    if not ca:
        raise CliError("the current kubeconfig has no cluster CA to hand on", 2)
    text = yaml.safe_dump(
        kubeconfig(kube.host, ca, learner["name"], namespace, credentials),
        sort_keys=False,
    )
    if out is not None:
        await asyncio.to_thread(_write_private, out, text)
    return text


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
