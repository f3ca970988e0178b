"""Flux emulator: source-controller and kustomize-controller behaviour over the Kubernetes API."""

from slipway.sandbox.flux._controller import FluxEmulator

__all__ = ["FluxEmulator"]
