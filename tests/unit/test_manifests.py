"""The generated objects validate against the real schemas and never leak the credential."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from slipway.domain.errors import InvalidInput
from slipway.domain.names import ResourceKind, is_dns1123_label, max_slug_length
from slipway.gitops import kinds, manifests, preflight
from slipway.gitops.defaults import (
    KUSTOMIZATION_INTERVAL,
    KUSTOMIZATION_TIMEOUT,
    LABEL_ENVIRONMENT,
    LABEL_INSTALLATION,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    SOURCE_INTERVAL,
)
from slipway.gitops.spec import BasicAuth, EnvironmentSpec, SSHAuth

CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "flux"
TOKEN = "ghp_s3cr3tT0kenValue1234567890"
SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
K8S_VERSION = "1.30"


def make_spec(
    project: str = "shop", environment: str = "staging", **overrides: Any
) -> EnvironmentSpec:
    values: dict[str, Any] = {
        "project": project,
        "environment": environment,
        "installation": "0123456789abcdef",
        "repository_url": "https://github.com/acme/shop.git",
        "credentials": BasicAuth(username="x-access-token", password=SecretStr(TOKEN)),
    }
    values.update(overrides)
    return EnvironmentSpec(**values)


def ssh_spec() -> EnvironmentSpec:
    return make_spec(
        repository_url="ssh://git@github.com/acme/shop.git",
        credentials=SSHAuth(
            identity=SecretStr(SSH_KEY),
            known_hosts="github.com ssh-ed25519 AAAAC3Nza",
            identity_pub="ssh-ed25519 AAAAC3Nza slipway",
        ),
    )


def _decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def _strip_extensions(node: Any) -> Any:
    """Kubernetes structural schemas carry `x-kubernetes-*` keys jsonschema does not know."""
    if isinstance(node, dict):
        return {k: _strip_extensions(v) for k, v in node.items() if not k.startswith("x-kubern")}
    if isinstance(node, list):
        return [_strip_extensions(v) for v in node]
    return node


def _crd_validator(filename: str) -> jsonschema.protocols.Validator:
    crd = yaml.safe_load((CONTRACTS / filename).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert version["served"] is True
    schema = _strip_extensions(version["schema"]["openAPIV3Schema"])
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


@pytest.fixture(scope="module")
def flux_validators() -> dict[str, jsonschema.protocols.Validator]:
    if not CONTRACTS.is_dir():
        pytest.fail(f"the Flux contract CRDs are expected at {CONTRACTS}")
    return {
        "GitRepository": _crd_validator("source.toolkit.fluxcd.io_gitrepositories.yaml"),
        "Kustomization": _crd_validator("kustomize.toolkit.fluxcd.io_kustomizations.yaml"),
    }


FLUX_KINDS = {"GitRepository", "Kustomization"}


@pytest.mark.parametrize("spec_factory", [make_spec, ssh_spec], ids=["basic", "ssh"])
def test_every_object_validates(
    spec_factory: Callable[[], EnvironmentSpec],
    flux_validators: dict[str, jsonschema.protocols.Validator],
) -> None:
    objects = manifests.environment_objects(spec_factory())
    assert [o["kind"] for o in objects] == [info.kind for info in kinds.apply_order()]
    for obj in objects:
        if obj["kind"] in FLUX_KINDS:
            flux_validators[obj["kind"]].validate(obj)
        else:
            kubernetes_validate.validate(copy.deepcopy(obj), K8S_VERSION, strict=True)


def test_flux_schema_catches_a_bad_object(
    flux_validators: dict[str, jsonschema.protocols.Validator],
) -> None:
    """The validator is not vacuous: a misspelt field and a bad interval are rejected."""
    bad = manifests.build(ResourceKind.KUSTOMIZATION, make_spec())
    bad["spec"]["interval"] = "five minutes"
    with pytest.raises(jsonschema.ValidationError):
        flux_validators["Kustomization"].validate(bad)
    missing = manifests.build(ResourceKind.GIT_REPOSITORY, make_spec())
    del missing["spec"]["url"]
    with pytest.raises(jsonschema.ValidationError):
        flux_validators["GitRepository"].validate(missing)


def test_objects_match_the_design() -> None:
    spec = make_spec()
    by_kind = {o["kind"]: o for o in manifests.environment_objects(spec)}
    ns, secret, sa = by_kind["Namespace"], by_kind["Secret"], by_kind["ServiceAccount"]
    rb, repo, ks = by_kind["RoleBinding"], by_kind["GitRepository"], by_kind["Kustomization"]
    assert ns["apiVersion"] == secret["apiVersion"] == sa["apiVersion"] == "v1"
    assert rb["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert ns["metadata"]["name"] == "project-shop-staging"
    assert secret["metadata"] == {
        "name": "shop-git-auth",
        "namespace": "project-shop-staging",
        "labels": manifests.labels(spec),
    }
    assert secret["type"] == "Opaque"
    assert _decoded(secret) == {"username": "x-access-token", "password": TOKEN}
    assert sa["metadata"]["name"] == "shop-reconciler"
    assert rb["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "admin",
    }
    assert rb["subjects"] == [
        {"kind": "ServiceAccount", "name": "shop-reconciler", "namespace": "project-shop-staging"}
    ]
    assert repo["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    assert repo["metadata"]["name"] == "shop-repo"
    assert repo["spec"] == {
        "interval": SOURCE_INTERVAL,
        "url": "https://github.com/acme/shop.git",
        "ref": {"branch": "main"},
        "secretRef": {"name": "shop-git-auth"},
    }
    assert ks["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert ks["metadata"]["name"] == "shop-staging"
    assert ks["spec"] == {
        "interval": KUSTOMIZATION_INTERVAL,
        "timeout": KUSTOMIZATION_TIMEOUT,
        "wait": True,  # Ready means the workloads are healthy (Flux's health assessment)
        "sourceRef": {"kind": "GitRepository", "name": "shop-repo"},
        "path": "./k8s/overlays/staging",
        "prune": True,
        "targetNamespace": "project-shop-staging",
        "serviceAccountName": "shop-reconciler",
    }
    assert (SOURCE_INTERVAL, KUSTOMIZATION_INTERVAL, KUSTOMIZATION_TIMEOUT) == ("1m", "5m", "2m")


def test_ssh_secret_carries_identity_and_known_hosts() -> None:
    secret = manifests.build(ResourceKind.SECRET, ssh_spec())
    assert set(secret["data"]) == {"identity", "identity.pub", "known_hosts"}
    assert _decoded(secret)["identity"] == SSH_KEY
    assert "stringData" not in secret


_ENV = st.from_regex(r"\A[a-z]([-a-z0-9]{0,18}[a-z0-9])?\Z", fullmatch=True)


@st.composite
def _slug_and_env(draw: st.DrawFn) -> tuple[str, str]:
    env = draw(_ENV)
    limit = max_slug_length([env])
    slug = draw(
        st.from_regex(r"\A[a-z]([-a-z0-9]*[a-z0-9])?\Z", fullmatch=True).filter(
            lambda s: len(s) <= limit
        )
    )
    return slug, env


@settings(max_examples=150, deadline=None)
@given(_slug_and_env())
def test_names_and_labels_are_valid_for_any_accepted_input(pair: tuple[str, str]) -> None:
    slug, env = pair
    spec = make_spec(slug, env)
    for obj in manifests.environment_objects(spec):
        meta = obj["metadata"]
        assert is_dns1123_label(meta["name"]), meta["name"]
        if "namespace" in meta:
            assert meta["namespace"] == f"project-{slug}-{env}"
        assert meta["labels"] == {
            LABEL_MANAGED_BY: "slipway",
            LABEL_PROJECT: slug,
            LABEL_ENVIRONMENT: env,
            LABEL_INSTALLATION: "0123456789abcdef",
        }
        # Label values are at most 63 characters too.
        assert all(is_dns1123_label(v) for v in meta["labels"].values())


def test_too_long_or_invalid_names_are_refused_before_building() -> None:
    with pytest.raises(InvalidInput, match="project"):
        make_spec("a" * 50, "production")
    with pytest.raises(InvalidInput, match="environment"):
        make_spec("shop", "Prod")


def test_secret_stays_out_of_repr_and_errors() -> None:
    spec = make_spec()
    assert TOKEN not in repr(spec)
    assert TOKEN not in str(spec)
    assert "PRIVATE KEY" not in repr(ssh_spec())
    with pytest.raises(InvalidInput) as caught:
        make_spec(repository_url=f"https://user:{TOKEN}@github.com/acme/shop.git")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.to_dict())


def test_url_must_match_the_credential_kind() -> None:
    with pytest.raises(InvalidInput, match="repository_url"):
        make_spec(repository_url="ssh://git@github.com/acme/shop.git")
    with pytest.raises(InvalidInput, match="repository_url"):
        make_spec(
            credentials=SSHAuth(identity=SecretStr(SSH_KEY), known_hosts="h ssh-ed25519 AAAA")
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("branch", "bad..branch"), ("branch", "has space"), ("source_interval", "1 minute")],
)
def test_bad_branch_or_interval_is_refused(field: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        make_spec(**{field: value})


def test_dry_run_yaml_redacts_the_token_unless_asked() -> None:
    objects = manifests.environment_objects(make_spec())
    text = manifests.render_yaml(objects)
    assert TOKEN not in text
    assert objects[1]["data"]["password"] not in text  # nor its base64
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == [o["kind"] for o in objects]
    assert docs[1]["data"] == {"username": "<redacted>", "password": "<redacted>"}
    # The objects themselves are untouched by rendering.
    assert _decoded(objects[1])["password"] == TOKEN
    shown = list(yaml.safe_load_all(manifests.render_yaml(objects, redact_secrets=False)))
    assert _decoded(shown[1])["password"] == TOKEN
    assert shown == objects


def test_builders_are_pure() -> None:
    spec = make_spec()
    assert manifests.environment_objects(spec) == manifests.environment_objects(spec)
    first = manifests.environment_objects(spec)
    first[0]["metadata"]["labels"]["x"] = "y"
    assert "x" not in manifests.build(ResourceKind.NAMESPACE, spec)["metadata"]["labels"]


def test_registry_describes_the_six_kinds_of_the_design() -> None:
    assert [i.kind for i in kinds.apply_order()] == list(ResourceKind)
    deletion = [i.kind.value for i in kinds.delete_order()]
    assert deletion == [
        "Kustomization",
        "GitRepository",
        "Secret",
        "RoleBinding",
        "ServiceAccount",
        "Namespace",
    ]
    flux = [i.qualified for i in kinds.flux_kinds()]
    assert flux == [
        "gitrepositories.source.toolkit.fluxcd.io",
        "kustomizations.kustomize.toolkit.fluxcd.io",
    ]
    assert preflight.check_names()[1:3] == [f"Flux CRD {q}" for q in flux]
    # The status sync lists and watches every kind it applies, across the cluster.
    assert all({"list", "watch"} <= set(i.verbs) for i in kinds.apply_order())
    with pytest.raises(ValueError, match="not a kind Slipway manages"):
        kinds.kind_info("Deployment")
