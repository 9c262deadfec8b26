"""The CKA and CKS curriculum competencies a lab trains: how `breakfix list` groups the catalog
and what the README's coverage table counts. A lab's `competency` defaults by its category."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Competency:
    exam: str
    domain: str
    title: str


WORKLOADS = "Workloads & Scheduling"
ARCHITECTURE = "Cluster Architecture, Installation & Configuration"
MICROSERVICES = "Minimize Microservice Vulnerabilities"
CLUSTER_SETUP = "Cluster Setup"
CLUSTER_HARDENING = "Cluster Hardening"
SYSTEM_HARDENING = "System Hardening"
SUPPLY_CHAIN = "Supply Chain Security"
RUNTIME = "Monitoring, Logging and Runtime Security"

# Named as the CNCF curricula name them (CKA v1.34, CKS v1.34).
COMPETENCIES: dict[str, Competency] = {
    "cka-clusters-and-nodes": Competency(
        "CKA", "Troubleshooting", "Troubleshoot clusters and nodes"
    ),
    "cka-cluster-components": Competency(
        "CKA", "Troubleshooting", "Troubleshoot cluster components"
    ),
    "cka-resource-usage": Competency(
        "CKA", "Troubleshooting", "Monitor cluster and application resource usage"
    ),
    "cka-container-output": Competency(
        "CKA", "Troubleshooting", "Manage and evaluate container output streams"
    ),
    "cka-services-networking": Competency(
        "CKA", "Troubleshooting", "Troubleshoot services and networking"
    ),
    "cka-deployments-rollouts": Competency(
        "CKA",
        WORKLOADS,
        "Application deployments, rolling updates and rollbacks",
    ),
    "cka-config-secrets": Competency(
        "CKA", WORKLOADS, "Use ConfigMaps and Secrets to configure applications"
    ),
    "cka-autoscaling": Competency("CKA", WORKLOADS, "Configure workload autoscaling"),
    "cka-self-healing": Competency(
        "CKA",
        WORKLOADS,
        "Primitives for robust, self-healing application deployments",
    ),
    "cka-scheduling": Competency(
        "CKA", WORKLOADS, "Pod admission and scheduling (limits, node affinity)"
    ),
    "cka-storage": Competency(
        "CKA", "Storage", "Volume types, access modes, storage classes and claims"
    ),
    "cka-network-policy": Competency(
        "CKA", "Services & Networking", "Define and enforce Network Policies"
    ),
    "cka-ingress": Competency(
        "CKA",
        "Services & Networking",
        "Use Ingress controllers and Ingress resources, and the Gateway API",
    ),
    "cka-coredns": Competency("CKA", "Services & Networking", "Use CoreDNS"),
    "cka-rbac": Competency(
        "CKA",
        ARCHITECTURE,
        "Manage role based access control",
    ),
    "cks-pod-security": Competency(
        "CKS",
        MICROSERVICES,
        "Pod Security Standards and security contexts",
    ),
    "cks-secrets": Competency("CKS", MICROSERVICES, "Manage Kubernetes secrets"),
    "cks-isolation": Competency(
        "CKS", MICROSERVICES, "Understand and implement isolation techniques"
    ),
    "cks-component-config": Competency(
        "CKS",
        CLUSTER_SETUP,
        "Use CIS benchmark to review the security configuration of Kubernetes components",
    ),
    "cks-node-endpoints": Competency("CKS", CLUSTER_SETUP, "Protect node metadata and endpoints"),
    "cks-rbac": Competency("CKS", CLUSTER_HARDENING, "Use RBAC to minimize exposure"),
    "cks-service-accounts": Competency(
        "CKS",
        CLUSTER_HARDENING,
        "Exercise caution in using service accounts, minimize their permissions",
    ),
    "cks-api-access": Competency("CKS", CLUSTER_HARDENING, "Restrict access to Kubernetes API"),
    "cks-kernel-hardening": Competency(
        "CKS", SYSTEM_HARDENING, "Use kernel hardening tools such as AppArmor and seccomp"
    ),
    "cks-least-privilege-host": Competency(
        "CKS", SYSTEM_HARDENING, "Using least-privilege identity and access management"
    ),
    "cks-image-policy": Competency(
        "CKS",
        SUPPLY_CHAIN,
        "Secure the supply chain: permitted image registries, pinned artifacts",
    ),
    "cks-immutability": Competency("CKS", RUNTIME, "Ensure immutability of containers at runtime"),
    "cks-audit-logs": Competency("CKS", RUNTIME, "Use Kubernetes audit logs to monitor access"),
}

BY_CATEGORY: dict[str, str] = {
    "nodes": "cka-clusters-and-nodes",
    "node-operations": "cka-clusters-and-nodes",
    "control-plane": "cka-cluster-components",
    "quotas-limits": "cka-resource-usage",
    "crashing-containers": "cka-container-output",
    "multi-fault": "cka-container-output",
    "services": "cka-services-networking",
    "dns": "cka-coredns",
    "ingress": "cka-ingress",
    "networkpolicy": "cka-network-policy",
    "workloads": "cka-deployments-rollouts",
    "images": "cka-deployments-rollouts",
    "config": "cka-config-secrets",
    "scheduling": "cka-scheduling",
    "storage": "cka-storage",
    "rbac": "cka-rbac",
    "pod-security": "cks-pod-security",
}


def competency_of(category: str, given: str | None = None) -> str:
    return given or BY_CATEGORY.get(category, "")


def coverage(labs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Competency id -> the labs (id, competency id) that train it, in curriculum order."""
    found: dict[str, list[str]] = {key: [] for key in COMPETENCIES}
    for lab, key in labs:
        found.setdefault(key, []).append(lab)
    return {key: sorted(ids) for key, ids in found.items()}


def coverage_table(labs: Iterable[tuple[str, str]]) -> str:
    """The README's table: every competency, with how many labs train it (none is shown)."""
    rows = [
        "| Exam | Domain | Competency | Labs |",
        "| --- | --- | --- | ---: |",
    ]
    for key, ids in coverage(labs).items():
        c = COMPETENCIES[key]
        rows.append(f"| {c.exam} | {c.domain} | {c.title} | {len(ids)} |")
    return "\n".join(rows) + "\n"
