"""Controls 60-61: every IAM document of the plan linted with parliament (AWS's own action and resource data)."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import sys
import types
from collections.abc import Iterator
from typing import Any

from cli.core import resource_types
from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView, inputs, statements
from cli.plan.values import decoded

IDENTITY = {
    resource_types.IAM_POLICY: "policy",
    resource_types.IAM_ROLE_POLICY: "policy",
    resource_types.IAM_USER_POLICY: "policy",
    resource_types.IAM_GROUP_POLICY: "policy",
}
"""Identity policies: what a principal may do, to which resources."""
RESOURCE_BASED = {
    resource_types.KMS_KEY: "policy",
    resource_types.S3_BUCKET_POLICY: "policy",
    resource_types.ECR_REPOSITORY_POLICY: "policy",
}
"""Resource policies: who may act on the one resource they belong to (`Resource: *` is that resource)."""
MALFORMED = frozenset(
    {
        "EXCEPTION", "MALFORMED_JSON", "MALFORMED", "DUPLICATE_SID", "UNKNOWN_PRINCIPAL", "UNKNOWN_FEDERATION_SOURCE",
        "MISMATCHED_TYPE", "MISMATCHED_TYPE_OPERATION_TO_NULL", "UNKNOWN_ACTION", "UNKNOWN_PREFIX",
        "UNKNOWN_CONDITION_FOR_ACTION", "UNKNOWN_OPERATOR", "INVALID_SID", "INVALID_ARN", "NO_VERSION",
        "INVALID_VERSION", "RESOURCE_MISMATCH",
    }
)  # fmt: skip
"""parliament's findings of a statement IAM refuses or that does not do what it says: errors on every stack."""
_NO_RESOURCE = "Statement contains neither Resource nor NotResource"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One parliament finding (or an empty Resource list) on one document of one resource."""

    urn: str
    document: str
    issue: str
    detail: str


def _parliament() -> Any:
    """parliament 1.6 finds its bundled data through pkg_resources, which setuptools 81 removed: when it is
    missing, a stand-in answering `resource_filename` is present only while parliament is imported."""
    if "parliament" in sys.modules:
        return sys.modules["parliament"]
    try:
        import pkg_resources  # noqa: F401  # pyright: ignore[reportMissingImports] - only whether it exists
    except ImportError:
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, name: str(importlib.resources.files(package) / name)  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
        try:
            import parliament
        finally:
            del sys.modules["pkg_resources"]
        return parliament
    import parliament

    return parliament


def documents(view: PlanView) -> Iterator[tuple[dict[str, Any], str, str, Any]]:
    """Every IAM document of the plan: (resource, input name, kind, document) with kind identity, trust or
    resource."""
    for token, key in IDENTITY.items():
        for resource in view.of(token):
            yield resource, key, "identity", decoded(inputs(resource).get(key))
    for role in view.of(resource_types.IAM_ROLE):
        yield role, "assumeRolePolicy", "trust", decoded(inputs(role).get("assumeRolePolicy"))
        for index, inline in enumerate(inputs(role).get("inlinePolicies") or []):
            yield role, f"inlinePolicies[{index}]", "identity", decoded((inline or {}).get("policy"))
    for token, key in RESOURCE_BASED.items():
        for resource in view.of(token):
            yield resource, key, "resource", decoded(inputs(resource).get(key))


def _applies(kind: str, issue: str, detail: str) -> bool:
    """Whether a finding is about this kind of document: a trust policy names no resource (the role is it), and a
    resource policy's `Resource: *` is the resource it is attached to."""
    if kind == "trust" and ((issue == "MALFORMED" and _NO_RESOURCE in detail) or issue == "RESOURCE_STAR"):
        return False
    return not (kind == "resource" and issue in ("RESOURCE_STAR", "RESOURCE_EFFECTIVELY_STAR"))


def findings(view: PlanView) -> list[Finding]:
    """parliament's findings on every document, and each statement whose Resource list is empty."""
    cached = getattr(view, "_iam_findings", None)
    if cached is not None:
        return cached
    parliament = _parliament()
    found: list[Finding] = []
    for resource, key, kind, document in documents(view):
        if document is None:
            continue
        for statement in statements(document):
            if statement.get("Resource") == [] or statement.get("NotResource") == []:
                sid = statement.get("Sid", "a statement")
                found.append(Finding(resource["urn"], key, "EMPTY_RESOURCE", f"{sid} has an empty Resource list"))
        text = document if isinstance(document, str) else json.dumps(document)
        policy = parliament.analyze_policy_string(text, ignore_private_auditors=True)
        for finding in policy.findings:
            detail = finding.detail if isinstance(finding.detail, str) else json.dumps(finding.detail, default=str)
            if _applies(kind, finding.issue, detail):
                found.append(Finding(resource["urn"], key, finding.issue, detail[:300]))
    view._iam_findings = found  # type: ignore[attr-defined]
    return found


@control(
    "60",
    "IAM documents well formed: no empty Resource, known actions, resources of the actions' types",
    sources=("parliament", "IAM.21"),
    level="E",
)
def iam_well_formed(view: PlanView) -> Iterator[Violation]:
    for finding in findings(view):
        if finding.issue in MALFORMED or finding.issue == "EMPTY_RESOURCE":
            yield Violation(finding.urn, f"{finding.document}: {finding.issue}: {finding.detail}")


@control("61", "IAM documents without parliament's other findings", sources=("parliament",), level="P")
def iam_lint_clean(view: PlanView) -> Iterator[Violation]:
    for finding in findings(view):
        if finding.issue not in MALFORMED and finding.issue != "EMPTY_RESOURCE":
            yield Violation(finding.urn, f"{finding.document}: {finding.issue}: {finding.detail}")
