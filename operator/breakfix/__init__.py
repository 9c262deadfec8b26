"""breakfix: a Kubernetes operator that runs hands-on troubleshooting labs and grades them live."""

GROUP = "breakfix.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "breakfix"
LAB_LABEL = f"{GROUP}/lab"
SCENARIO_LABEL = f"{GROUP}/scenario"
# On a lab namespace: {"Kind/name": uid} of every object the scenario provisioned.
PROVISIONED_UIDS = f"{GROUP}/provisioned-uids"
NAMESPACE_PREFIX = "lab-"
