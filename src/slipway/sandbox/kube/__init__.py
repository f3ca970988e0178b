"""A Kubernetes API server emulator speaking the real REST protocol (see README.md).

emulator = KubeEmulator().start()
emulator.write_kubeconfig("kubeconfig")   # kubectl / lightkube as a bearer-token user
"""

from slipway.sandbox.kube._emulator import KubeEmulator
from slipway.sandbox.kube._fixtures import FluxControllers
from slipway.sandbox.kube._kubeconfig import write_kubeconfig
from slipway.sandbox.kube._rbac import AccessPolicy, PolicyRule
from slipway.sandbox.kube._recording import KubeRecorder, KubeRequest
from slipway.sandbox.kube._resources import ResourceType
from slipway.sandbox.kube._routes import create_kube_app
from slipway.sandbox.kube._status import KubeApiError
from slipway.sandbox.kube._store import KubeState, WatchEvent

__all__ = [
    "AccessPolicy",
    "FluxControllers",
    "KubeApiError",
    "KubeEmulator",
    "KubeRecorder",
    "KubeRequest",
    "KubeState",
    "PolicyRule",
    "ResourceType",
    "WatchEvent",
    "create_kube_app",
    "write_kubeconfig",
]
