"""One forge emulator for the whole session (users, tokens, an org), and a `forge` adapter
per API flavour: GitHub, GitHub Enterprise (/api/v3), GitLab and Gitea."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from slipway.forges import Forge
from slipway.sandbox.forge import ForgeEmulator

from ._support import (
    FLAVOURS,
    LOW_SCOPE_TOKEN,
    OAUTH_TOKEN,
    OUTSIDER_TOKEN,
    TOKEN,
    Flavour,
    make_forge,
)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForgeEmulator]:
    root = tmp_path_factory.mktemp("forge")
    with ForgeEmulator(root) as emu:
        emu.add_user("alice", TOKEN)
        emu.add_token(OAUTH_TOKEN, "alice", scopes=("repo", "api"), kind="oauth")
        emu.add_token(LOW_SCOPE_TOKEN, "alice", scopes=("read:user",))
        emu.add_user("bob", OUTSIDER_TOKEN)
        emu.add_org("acme", members=("alice",))
        yield emu


@pytest.fixture(params=FLAVOURS, ids=[f.id for f in FLAVOURS])
def flavour(request: pytest.FixtureRequest) -> Flavour:
    chosen: Flavour = request.param
    return chosen


@pytest.fixture
async def forge(emulator: ForgeEmulator, flavour: Flavour) -> AsyncIterator[Forge]:
    emulator.clear_faults()
    adapter = make_forge(emulator, flavour)
    yield adapter
    await adapter.aclose()


@pytest.fixture
def repo_name() -> str:
    return f"r-{uuid.uuid4().hex[:10]}"
