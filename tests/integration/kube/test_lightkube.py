"""The emulator through lightkube's AsyncClient over HTTPS, as Slipway's cluster client uses it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.models.meta_v1 import ObjectMeta, StatusCause
from lightkube.operators import Operator
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret
from lightkube.types import PatchType

from slipway.sandbox.kube import KubeEmulator

from ._support import LIMITED_TOKEN, GitRepository, Kustomization, kustomization, lightkube_config

Selector = dict[str, str | Operator[Any] | Iterable[Any] | None]


def meta(obj: Any) -> ObjectMeta:
    """lightkube types `metadata` as optional; an object read from a server always has it."""
    found: ObjectMeta | None = obj.metadata
    assert found is not None
    return found


def name_of(obj: Any) -> str:
    name = meta(obj).name
    assert name is not None
    return name


def causes(error: ApiError) -> list[StatusCause]:
    details = error.status.details
    assert details is not None and details.causes is not None
    return details.causes


async def test_create_get_list_secret(client: AsyncClient, namespace: str) -> None:
    secret = Secret(
        metadata=ObjectMeta(name="git-auth", namespace=namespace, labels={"app": "x"}),
        stringData={"username": "git", "password": "s3cret"},
    )
    created = await client.create(secret)
    assert meta(created).uid and meta(created).resourceVersion
    fetched = await client.get(Secret, "git-auth", namespace=namespace)
    assert meta(fetched).uid == meta(created).uid
    names = [name_of(s) async for s in client.list(Secret, namespace=namespace)]
    assert names == ["git-auth"]
    with pytest.raises(ApiError) as exc:
        await client.create(secret)
    assert exc.value.status.code == 409
    assert exc.value.status.reason == "AlreadyExists"
    assert exc.value.status.message == 'secrets "git-auth" already exists'


async def test_object_in_missing_namespace_is_refused(client: AsyncClient) -> None:
    with pytest.raises(ApiError) as exc:
        await client.apply(Kustomization.from_dict(kustomization("app", "nowhere")))
    assert exc.value.status.code == 404
    assert exc.value.status.message == 'namespaces "nowhere" not found'


async def test_get_missing_object_names_it(client: AsyncClient, namespace: str) -> None:
    with pytest.raises(ApiError) as exc:
        await client.get(Kustomization, "ghost", namespace=namespace)
    assert exc.value.status.code == 404
    assert exc.value.status.message == (
        'kustomizations.kustomize.toolkit.fluxcd.io "ghost" not found'
    )


async def test_apply_creates_then_reapply_changes_nothing(
    client: AsyncClient, namespace: str
) -> None:
    first = await client.apply(Kustomization.from_dict(kustomization("app", namespace)))
    assert meta(first).generation == 1
    [entry] = first.metadata.managedFields
    assert (entry.manager, entry.operation, entry.fieldsType) == ("slipway", "Apply", "FieldsV1")
    assert entry.fieldsV1["f:spec"]["f:sourceRef"] == {"f:kind": {}, "f:name": {}}
    again = await client.apply(Kustomization.from_dict(kustomization("app", namespace)))
    assert meta(again).resourceVersion == meta(first).resourceVersion
    assert meta(again).generation == 1
    changed = await client.apply(
        Kustomization.from_dict(kustomization("app", namespace, interval="10m"))
    )
    assert meta(changed).generation == 2
    assert int(str(meta(changed).resourceVersion)) > int(str(meta(first).resourceVersion))


async def test_second_manager_conflicts_unless_forced(client: AsyncClient, namespace: str) -> None:
    await client.apply(Kustomization.from_dict(kustomization("app", namespace)))
    other = Kustomization.from_dict(kustomization("app", namespace, interval="1m"))
    with pytest.raises(ApiError) as exc:
        await client.apply(other, field_manager="intruder")
    status = exc.value.status
    assert status.code == 409 and status.reason == "Conflict"
    assert status.message == 'Apply failed with 1 conflict: conflict with "slipway": .spec.interval'
    assert causes(exc.value)[0].field == ".spec.interval"
    assert causes(exc.value)[0].reason == "FieldManagerConflict"

    same_values = Kustomization.from_dict(kustomization("app", namespace))
    shared = await client.apply(same_values, field_manager="co-owner")
    assert {e.manager for e in shared.metadata.managedFields} == {"slipway", "co-owner"}

    forced = await client.apply(other, field_manager="intruder", force=True)
    assert forced.spec["interval"] == "1m"
    owners = {e.manager: e.fieldsV1 for e in forced.metadata.managedFields}
    assert "f:interval" in owners["intruder"]["f:spec"]
    assert "f:interval" not in owners["slipway"]["f:spec"]


async def test_field_dropped_by_its_only_manager_is_removed(
    client: AsyncClient, namespace: str
) -> None:
    await client.apply(
        Kustomization.from_dict(kustomization("app", namespace, targetNamespace=namespace))
    )
    result = await client.apply(Kustomization.from_dict(kustomization("app", namespace)))
    assert "targetNamespace" not in result.spec


async def test_label_selectors(client: AsyncClient, namespace: str) -> None:
    for name, labels in {
        "a": {"env": "dev", "tier": "web"},
        "b": {"env": "prod", "tier": "web"},
        "c": {"env": "staging"},
    }.items():
        await client.create(
            ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels=labels))
        )

    async def names(selector: str) -> list[str]:
        listing = client.list(ConfigMap, namespace=namespace, labels=_parse(selector))
        return sorted([name_of(c) async for c in listing])

    assert await names("env=dev") == ["a"]
    assert await names("env!=dev") == ["b", "c"]
    assert await names("env in (dev,prod)") == ["a", "b"]
    assert await names("env notin (dev,prod)") == ["c"]
    assert await names("tier") == ["a", "b"]
    assert await names("!tier") == ["c"]


def _parse(selector: str) -> Selector:
    """lightkube's selector dict for the few forms these tests use."""
    from lightkube import operators

    if " notin " in selector:
        key, values = selector.split(" notin ")
        return {key: operators.not_in(values.strip("()").split(","))}
    if " in " in selector:
        key, values = selector.split(" in ")
        return {key: operators.in_(values.strip("()").split(","))}
    if "!=" in selector:
        key, value = selector.split("!=")
        return {key: operators.not_equal(value)}
    if "=" in selector:
        key, value = selector.split("=")
        return {key: value}
    if selector.startswith("!"):
        return {selector[1:]: operators.not_exists()}
    return {selector: operators.exists()}


async def test_watch_from_resource_version(client: AsyncClient, namespace: str) -> None:
    before = await client.apply(Kustomization.from_dict(kustomization("one", namespace)))
    events: list[tuple[str, str]] = []

    async def consume() -> None:
        stream = client.watch(
            Kustomization, namespace=namespace, resource_version=meta(before).resourceVersion
        )
        async for kind, obj in stream:
            events.append((kind, name_of(obj)))
            if kind == "DELETED":
                return

    task = asyncio.create_task(consume())
    await client.apply(Kustomization.from_dict(kustomization("two", namespace)))
    await client.apply(Kustomization.from_dict(kustomization("one", namespace, interval="2m")))
    await client.delete(Kustomization, "two", namespace=namespace)
    await asyncio.wait_for(task, 10)
    assert events == [("ADDED", "two"), ("MODIFIED", "one"), ("DELETED", "two")]


async def test_namespace_deletion_removes_its_objects(
    client: AsyncClient, kube: KubeEmulator, namespace: str
) -> None:
    await client.apply(Kustomization.from_dict(kustomization("app", namespace)))
    await client.create(Secret(metadata=ObjectMeta(name="s", namespace=namespace)))
    await client.delete(Namespace, namespace)
    with pytest.raises(ApiError) as exc:
        await client.get(Namespace, namespace)
    assert exc.value.status.code == 404
    assert [k async for k in client.list(Kustomization, namespace=namespace)] == []
    assert kube.get("v1", "Secret", "s", namespace) is None


async def test_schema_violation_is_422_with_causes(client: AsyncClient, namespace: str) -> None:
    bad = kustomization("app", namespace, prune="yes", interval="soon")
    with pytest.raises(ApiError) as exc:
        await client.apply(Kustomization.from_dict(bad))
    status = exc.value.status
    assert status.code == 422 and status.reason == "Invalid"
    assert status.message is not None and status.message.startswith(
        'Kustomization.kustomize.toolkit.fluxcd.io "app" is invalid: ['
    )
    fields = {c.field: c.reason for c in causes(exc.value)}
    assert fields == {"spec.prune": "FieldValueTypeInvalid", "spec.interval": "FieldValueInvalid"}

    missing = kustomization("app", namespace)
    del missing["spec"]["interval"]  # type: ignore[attr-defined]
    with pytest.raises(ApiError) as exc:
        await client.apply(Kustomization.from_dict(missing))
    assert exc.value.status.message == (
        'Kustomization.kustomize.toolkit.fluxcd.io "app" is invalid: spec.interval: Required value'
    )


async def test_strategic_merge_patch_on_crd_is_415(client: AsyncClient, namespace: str) -> None:
    await client.apply(Kustomization.from_dict(kustomization("app", namespace)))
    with pytest.raises(ApiError) as exc:
        await client.patch(Kustomization, "app", {"spec": {"suspend": True}}, namespace=namespace)
    assert exc.value.status.code == 415
    assert exc.value.status.reason == "UnsupportedMediaType"
    merged = await client.patch(
        Kustomization,
        "app",
        {"spec": {"suspend": True}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    assert merged.spec["suspend"] is True
    assert meta(merged).generation == 2


async def test_rbac_denial_is_403_worded_like_rbac(kube: KubeEmulator, namespace: str) -> None:
    limited = AsyncClient(lightkube_config(kube, LIMITED_TOKEN), field_manager="slipway")
    try:
        with pytest.raises(ApiError) as exc:
            await limited.get(Secret, "x", namespace=namespace)
        assert exc.value.status.code == 403
        assert exc.value.status.message == (
            f'secrets "x" is forbidden: User "limited" cannot get resource "secrets" in API '
            f'group "" in the namespace "{namespace}"'
        )
        with pytest.raises(ApiError) as exc:
            await limited.apply(Kustomization.from_dict(kustomization("app", namespace)))
        assert exc.value.status.message == (
            'kustomizations.kustomize.toolkit.fluxcd.io "app" is forbidden: User "limited" '
            'cannot patch resource "kustomizations" in API group "kustomize.toolkit.fluxcd.io" '
            f'in the namespace "{namespace}"'
        )
        with pytest.raises(ApiError) as exc:
            await limited.create(Namespace(metadata=ObjectMeta(name="nope")))
        assert exc.value.status.message == (
            'namespaces is forbidden: User "limited" cannot create resource "namespaces" in API '
            'group "" at the cluster scope'
        )
    finally:
        await limited.close()


async def test_self_subject_access_review_follows_the_policy(kube: KubeEmulator) -> None:
    limited = AsyncClient(lightkube_config(kube, LIMITED_TOKEN))
    try:

        async def allowed(verb: str, resource: str, ns: str) -> bool:
            attributes = ResourceAttributes(
                verb=verb, group="kustomize.toolkit.fluxcd.io", resource=resource, namespace=ns
            )
            review = SelfSubjectAccessReview(
                spec=SelfSubjectAccessReviewSpec(resourceAttributes=attributes)
            )
            result = await limited.create(review)
            assert result.status is not None
            return bool(result.status.allowed)

        assert await allowed("create", "kustomizations", "team-a")
        assert not await allowed("delete", "kustomizations", "team-a")
        assert not await allowed("create", "kustomizations", "team-b")
    finally:
        await limited.close()


async def test_unknown_token_is_401(kube: KubeEmulator) -> None:
    stranger = AsyncClient(lightkube_config(kube, "wrong-token"))
    try:
        with pytest.raises(ApiError) as exc:
            await stranger.get(Namespace, "default")
        assert exc.value.status.code == 401
        assert exc.value.status.reason == "Unauthorized"
    finally:
        await stranger.close()


async def test_update_with_stale_resource_version_is_409(
    client: AsyncClient, namespace: str
) -> None:
    cm = await client.create(
        ConfigMap(metadata=ObjectMeta(name="c", namespace=namespace), data={"a": "1"})
    )
    cm.data = {"a": "2"}
    await client.replace(cm)
    cm.data = {"a": "3"}
    with pytest.raises(ApiError) as exc:
        await client.replace(cm)
    assert exc.value.status.code == 409
    assert exc.value.status.message == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; please '
        "apply your changes to the latest version and try again"
    )


async def test_status_subresource_separates_spec_and_status(
    client: AsyncClient, namespace: str
) -> None:
    created = await client.apply(Kustomization.from_dict(kustomization("app", namespace)))
    assert created.status == {"observedGeneration": -1}
    body = kustomization("app", namespace, interval="9m")
    body["status"] = {"observedGeneration": 7}
    main = await client.replace(Kustomization.from_dict(body))
    assert main.spec["interval"] == "9m" and main.status == {"observedGeneration": -1}
    body = kustomization("app", namespace, interval="1h")
    body["status"] = {"observedGeneration": 2}
    status = await client.patch(
        Kustomization.Status,
        "app",
        {"spec": {"interval": "1h"}, "status": {"observedGeneration": 2}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    # lightkube types a subresource's `status` as str; it holds the object's status mapping.
    assert cast(Any, status).status == {"observedGeneration": 2}
    assert status.spec["interval"] == "9m"


async def test_dry_run_create_stores_nothing(client: AsyncClient, namespace: str) -> None:
    dry = AsyncClient(client.config, field_manager="slipway", dry_run=True)
    try:
        result = await dry.apply(
            GitRepository.from_dict(
                {
                    "apiVersion": "source.toolkit.fluxcd.io/v1",
                    "kind": "GitRepository",
                    "metadata": {"name": "repo", "namespace": namespace},
                    "spec": {"url": "https://example.com/r.git", "interval": "1m"},
                }
            )
        )
        assert result.spec["timeout"] == "60s"  # schema default filled in
    finally:
        await dry.close()
    with pytest.raises(ApiError):
        await client.get(GitRepository, "repo", namespace=namespace)


async def test_flux_prerequisites_are_readable(client: AsyncClient) -> None:
    crd = await client.get(CustomResourceDefinition, "kustomizations.kustomize.toolkit.fluxcd.io")
    assert [(v.name, v.served) for v in crd.spec.versions] == [("v1", True)]
    assert crd.status is not None and crd.status.conditions is not None
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    deploy = await client.get(Deployment, "kustomize-controller", namespace="flux-system")
    assert deploy.status is not None and deploy.status.availableReplicas == 1


async def test_missing_flux_crds_answer_404() -> None:
    with KubeEmulator(token="t", install_flux_crds=False, flux_controllers="absent") as bare:
        api = AsyncClient(lightkube_config(bare, "t"), field_manager="slipway")
        try:
            with pytest.raises(ApiError) as exc:
                await api.get(Kustomization, "x", namespace="default")
            assert exc.value.status.code == 404
            with pytest.raises(ApiError):
                await api.get(Deployment, "kustomize-controller", namespace="flux-system")
            bare.set_flux_crds(True)
            crds = [name_of(c) async for c in api.list(CustomResourceDefinition)]
            assert "gitrepositories.source.toolkit.fluxcd.io" in crds
        finally:
            await api.close()


async def test_secret_string_data_is_folded_into_data_and_reapply_is_a_no_op(
    client: AsyncClient, namespace: str
) -> None:
    secret = Secret(
        metadata=ObjectMeta(name="git-auth", namespace=namespace),
        stringData={"username": "git"},
    )
    first = await client.apply(secret)
    assert first.data == {"username": "Z2l0"}
    assert first.type == "Opaque" and first.stringData is None
    again = await client.apply(secret)
    assert meta(again).resourceVersion == meta(first).resourceVersion
