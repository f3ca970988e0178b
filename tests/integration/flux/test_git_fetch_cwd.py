"""The Flux emulator runs inside Slipway's process (a real source-controller has its own), so
its git must not depend on that process's working folder: copier, rendering a template in
another thread, changes it to a folder it deletes a moment later."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.commands import git

from slipway.sandbox.flux._git import fetch_branch


def test_a_fetch_succeeds_while_the_process_working_folder_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, bare = tmp_path / "work", tmp_path / "origin.git"
    work.mkdir()
    git(work, "init", "--quiet", "--initial-branch", "main")
    (work / "kustomization.yaml").write_text("resources: []\n")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "first")
    git(tmp_path, "clone", "--quiet", "--bare", str(work), str(bare))
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)  # put back when the test ends
    gone.rmdir()

    checkout = fetch_branch(bare.as_uri(), "main", tmp_path / "flux" / "checkout")

    assert checkout.sha == git(work, "rev-parse", "HEAD")
    assert (checkout.path / "kustomization.yaml").read_text() == "resources: []\n"
