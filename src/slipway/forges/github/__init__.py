"""GitHub and GitHub Enterprise through githubkit (only this package imports it)."""

from __future__ import annotations

from slipway.forges.github._forge import GitHubForge, token_kind

__all__ = ["GitHubForge", "token_kind"]
