"""The lightkube resource class of each registered kind, derived from its `KindInfo`.

Built-in kinds come from lightkube's own models (`resource_registry.load`); any other kind
(the Flux CRDs) becomes a generic resource from its group, version, kind and plural, so no
Flux model package is needed and a new kind needs no code here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from lightkube.core.exceptions import LoadResourceError
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_global_resource, create_namespaced_resource

from slipway.gitops.kinds import KindInfo


def resource_class(info: KindInfo) -> Any:
    return _resource_class(info.group, info.version, str(info.kind), info.plural, info.namespaced)


@cache
def _resource_class(group: str, version: str, kind: str, plural: str, namespaced: bool) -> Any:
    api_version = f"{group}/{version}" if group else version
    try:
        return resource_registry.load(api_version, kind)
    except LoadResourceError:
        create = create_namespaced_resource if namespaced else create_global_resource
        return create(group, version, kind, plural)
