"""Every check type, in the order error messages list them. Adding a type is one module under
checks/ and one line here: parsing, needs, evaluation and the permission tests follow."""

from __future__ import annotations

from breakfix.checks.absent import AbsentCheck
from breakfix.checks.admits import AdmitsCheck
from breakfix.checks.audited import AuditedCheck
from breakfix.checks.can_i import CanICheck
from breakfix.checks.check_type import CheckType
from breakfix.checks.credential import CredentialCheck
from breakfix.checks.endpoint_probe import ProbeCheck
from breakfix.checks.etcd_snapshot import EtcdSnapshotCheck
from breakfix.checks.eviction_allowed import EvictionAllowedCheck
from breakfix.checks.identity_kept import IdentityKeptCheck
from breakfix.checks.ingress_request import IngressRequestCheck
from breakfix.checks.least_privilege import LeastPrivilegeCheck
from breakfix.checks.logs import LogsCheck
from breakfix.checks.network_flow import NetworkFlowCheck
from breakfix.checks.network_matrix import NetworkMatrixCheck
from breakfix.checks.node_file import NodeFileCheck
from breakfix.checks.node_ready import NodeReadyCheck
from breakfix.checks.patch_as import PatchAsCheck
from breakfix.checks.pods_ready import PodsReadyCheck
from breakfix.checks.provisioned_kept import ProvisionedKeptCheck
from breakfix.checks.resource import ResourceCheck
from breakfix.checks.service_endpoints import ServiceEndpointsCheck
from breakfix.checks.service_request import ServiceRequestCheck
from breakfix.checks.static_pod import StaticPodCheck
from breakfix.checks.workload_available import WorkloadAvailableCheck

CHECK_TYPES: tuple[type[CheckType], ...] = (
    ResourceCheck,
    AbsentCheck,
    CanICheck,
    PodsReadyCheck,
    WorkloadAvailableCheck,
    ServiceEndpointsCheck,
    LogsCheck,
    NetworkFlowCheck,
    NodeReadyCheck,
    LeastPrivilegeCheck,
    NetworkMatrixCheck,
    EvictionAllowedCheck,
    IdentityKeptCheck,
    ProvisionedKeptCheck,
    StaticPodCheck,
    NodeFileCheck,
    CredentialCheck,
    ProbeCheck,
    ServiceRequestCheck,
    IngressRequestCheck,
    AdmitsCheck,
    AuditedCheck,
    PatchAsCheck,
    EtcdSnapshotCheck,
)

BY_KEY: dict[str, type[CheckType]] = {t.key: t for t in CHECK_TYPES}
