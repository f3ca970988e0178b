"""Finding the cluster: the seed's lookup order, K3S_KUBECONFIG_PATH, then KUBECONFIG, then
~/.kube/config, then the in-cluster service account. `Settings.kubeconfig` already holds the
first of the two variables that is set.

An explicitly configured path that does not exist is an error rather than a fall-through:
silently using ~/.kube/config instead could point Slipway at another cluster.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from lightkube.config.kubeconfig import SERVICE_ACCOUNT, KubeConfig, SingleConfig
from lightkube.core.exceptions import ConfigError

from slipway.domain.errors import ClusterError
from slipway.domain.text import t

_SYSTEM = "kubeconfig"
_ENV_HINT = t("set K3S_KUBECONFIG_PATH or KUBECONFIG to a kubeconfig file")


def load_kubeconfig(path: Path, context: str | None = None) -> SingleConfig:
    path = path.expanduser()
    if not path.is_file():
        raise ClusterError(
            t("kubeconfig {path} does not exist", path=path), system=_SYSTEM, hint=_ENV_HINT
        )
    try:
        config = KubeConfig.from_file(path).get(context)
    except yaml.YAMLError:
        # The parser's message quotes the file, which holds tokens: name the file only.
        raise ClusterError(
            t("kubeconfig {path} is not valid YAML", path=path), system=_SYSTEM
        ) from None
    except ConfigError as exc:
        raise ClusterError(
            t("kubeconfig {path}: {exc}", path=path, exc=exc), system=_SYSTEM, hint=_ENV_HINT
        ) from None
    except (KeyError, TypeError, AttributeError):
        raise ClusterError(
            t("kubeconfig {path} is missing a cluster, context or user entry", path=path),
            system=_SYSTEM,
        ) from None
    if config is None:  # pragma: no cover - lightkube returns None only with a default
        raise ClusterError(t("kubeconfig {path} has no current context", path=path), system=_SYSTEM)
    return config


def load_in_cluster(service_account: Path = Path(SERVICE_ACCOUNT)) -> SingleConfig:
    """The pod's service account, for Slipway running inside the cluster it manages: the
    API server from KUBERNETES_SERVICE_HOST/PORT, its CA and the account's token from
    `service_account` (the token file is read again on every request, so a rotated
    projected token is picked up)."""
    try:
        config = KubeConfig.from_service_account(service_account).get()
    except (ConfigError, KeyError) as exc:
        raise ClusterError(
            t("in-cluster configuration is incomplete: {exc}", exc=exc),
            system=_SYSTEM,
            hint=_ENV_HINT,
        ) from None
    assert config is not None
    return config


def resolve(
    configured: Path | None,
    context: str | None,
    *,
    service_account: Path = Path(SERVICE_ACCOUNT),
) -> SingleConfig:
    """`configured` is `Settings.kubeconfig`; KUBECONFIG may list several files (first wins).
    `service_account` is where a pod's account is mounted (a test gives another folder)."""
    if configured is not None:
        candidates = [Path(p) for p in str(configured).split(os.pathsep) if p]
        existing = [p for p in candidates if p.expanduser().is_file()]
        return load_kubeconfig(existing[0] if existing else candidates[0], context)
    default = Path.home() / ".kube" / "config"
    if default.is_file():
        return load_kubeconfig(default, context)
    if "KUBERNETES_SERVICE_HOST" in os.environ and (service_account / "token").is_file():
        return load_in_cluster(service_account)
    raise ClusterError(
        t(
            "no Kubernetes configuration found (looked at "
            "K3S_KUBECONFIG_PATH, KUBECONFIG, {default} and the "
            "in-cluster service account)",
            default=default,
        ),
        system=_SYSTEM,
        hint=_ENV_HINT,
    )
