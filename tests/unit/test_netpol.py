from breakfix.checks.netpol import Endpoint, flow, selector_matches

NS = {"metadata": {"name": "lab-x", "labels": {"kubernetes.io/metadata.name": "lab-x"}}}
OTHER = {"metadata": {"name": "other", "labels": {"kubernetes.io/metadata.name": "other"}}}


def pod(name: str, ns: dict = NS, **labels: str) -> Endpoint:
    return Endpoint(
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"ports": [{"name": "pg", "containerPort": 5432}]}]},
        },
        ns,
    )


def policy(name: str, spec: dict, ns: str = "lab-x") -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


CLIENT, DB = pod("client", app="web"), pod("db", app="db")
DENY_ALL = policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def test_no_policy_allows() -> None:
    assert flow([], CLIENT, DB, 5432).allowed


def test_default_deny_blocks_and_names_the_policy() -> None:
    verdict = flow([DENY_ALL], CLIENT, DB, 5432)
    assert not verdict.allowed
    assert "egress of client is restricted by default-deny" in verdict.reason


def test_both_directions_must_allow() -> None:
    ingress = policy(
        "db-in",
        {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                    "ports": [{"port": 5432}],
                }
            ],
        },
    )
    assert not flow([DENY_ALL, ingress], CLIENT, DB, 5432).allowed
    egress = policy(
        "web-out",
        {
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]}],
        },
    )
    assert flow([DENY_ALL, ingress, egress], CLIENT, DB, 5432).allowed
    assert not flow([DENY_ALL, ingress, egress], CLIENT, DB, 80).allowed


def test_named_port_and_wrong_selector() -> None:
    named = policy(
        "db-in",
        {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"ports": [{"port": "pg"}]}]},
    )
    assert flow([named], CLIENT, DB, 5432).allowed
    wrong = policy(
        "db-in",
        {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "wbe"}}}]}],
        },
    )
    assert not flow([wrong], CLIENT, DB, 5432).allowed


def test_pod_selector_alone_means_same_namespace() -> None:
    rule = policy(
        "db-in",
        {
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
        },
    )
    assert not flow([rule], pod("client", OTHER, app="web"), DB, 5432).allowed
    cross = policy(
        "db-in",
        {
            "podSelector": {},
            "ingress": [
                {
                    "from": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "other"}
                            },
                            "podSelector": {"matchLabels": {"app": "web"}},
                        }
                    ]
                }
            ],
        },
    )
    assert flow([cross], pod("client", OTHER, app="web"), DB, 5432).allowed


def test_match_expressions() -> None:
    sel = {
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "x", "operator": "DoesNotExist"},
        ]
    }
    assert selector_matches(sel, {"tier": "a"})
    assert not selector_matches(sel, {"tier": "a", "x": "1"})
    assert not selector_matches(sel, {"tier": "c"})
