"""Deploy keys, the flow every forge shares: add idempotently, list, remove.

A forge refuses a key it already holds (GitHub and Gitea 422, GitLab 400 "has already been
taken"), on this repository or on another; the flow then looks for it among this repository's
keys by its key material (comments differ: forges drop or keep them) and returns it, so a re-run
adds nothing. One held elsewhere is a `Conflict`. Adapters supply the calls and JSON shapes.
"""

from __future__ import annotations

from abc import abstractmethod

from slipway.domain.errors import Conflict
from slipway.domain.text import t
from slipway.forges._errors import NameTaken
from slipway.forges._flows import ForgeFlows
from slipway.forges._ssh import key_material
from slipway.forges.base import DeployKey, Repository


def key_in_use(text: str) -> bool:
    """Whether a refusal's text says the key exists (vs. a key the forge finds invalid)."""
    lowered = text.lower()
    return "already" in lowered or "been used" in lowered


class DeployKeyFlows(ForgeFlows):
    """`add_deploy_key` over the adapter's create and list calls."""

    @abstractmethod
    async def _create_deploy_key(
        self, repo: Repository, *, title: str, public_key: str
    ) -> DeployKey:
        """Add `public_key` read-only; raise `NameTaken` when the forge says it is in use."""

    @abstractmethod
    async def list_deploy_keys(self, repo: Repository) -> list[DeployKey]: ...

    @abstractmethod
    async def remove_deploy_key(self, repo: Repository, key_id: str) -> None: ...

    async def add_deploy_key(self, repo: Repository, *, title: str, public_key: str) -> DeployKey:
        try:
            return await self._create_deploy_key(repo, title=title, public_key=public_key)
        except NameTaken:
            material = key_material(public_key)
            for key in await self.list_deploy_keys(repo):
                if key_material(key.public_key) == material:
                    return key
        label = self._site.label
        raise Conflict(
            t(
                "{label} refused the deploy key {title} for {full_name}: the "
                "key is already in use elsewhere (another repository or "
                "account), or the title is taken",
                label=label,
                title=title,
                full_name=repo.full_name,
            ),
            step=self._site.step,
            system=label,
            hint=t(
                "give this repository a key of its own (on {label} a deploy "
                "key may serve only the repositories its holder manages), or "
                "remove the key where it is used",
                label=label,
            ),
        )
