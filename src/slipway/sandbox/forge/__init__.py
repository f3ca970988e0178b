"""A forge emulator: GitHub REST (also under GHE's /api/v3), GitLab /api/v4 and Gitea /api/v1
subsets over real bare git repositories served by git smart HTTP, with a request log,
latency and scripted faults. See README.md in this folder."""

from slipway.sandbox.forge._app import create_forge_app
from slipway.sandbox.forge._emulator import ForgeEmulator
from slipway.sandbox.forge._oauth_state import OAuthApp
from slipway.sandbox.forge._state import (
    LATENCY_ENV,
    Account,
    Fault,
    ForgeState,
    RecordedRequest,
    Repo,
    RequestRecorder,
    Token,
)

__all__ = [
    "LATENCY_ENV",
    "Account",
    "Fault",
    "ForgeEmulator",
    "ForgeState",
    "OAuthApp",
    "RecordedRequest",
    "Repo",
    "RequestRecorder",
    "Token",
    "create_forge_app",
]
