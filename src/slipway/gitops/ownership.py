"""Whose an object is, read from its labels, and the check that runs before every apply: an
object that exists without Slipway's labels, or with another project's or another
installation's, is never applied over. Pure but for `check_ownership`, which reads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from slipway.domain.errors import Conflict
from slipway.domain.names import ResourceKind, ResourceNames
from slipway.domain.text import N_, Text, join, t
from slipway.gitops.defaults import (
    LABEL_ENVIRONMENT,
    LABEL_INSTALLATION,
    LABEL_MANAGED_BY,
    LABEL_PROJECT,
    MANAGED_BY,
)
from slipway.gitops.kinds import apply_order
from slipway.gitops.results import ObjectRef

if TYPE_CHECKING:
    from slipway.gitops.cluster import ClusterClient

SYSTEM = "Kubernetes API"


class Claim(Protocol):
    """What an environment claims: its names, for its project, of an installation (an
    `EnvironmentSpec`, or an `EnvironmentClaim` before there is a repository to build one)."""

    @property
    def project(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def installation(self) -> str: ...
    @property
    def names(self) -> ResourceNames: ...


@dataclass(frozen=True)
class EnvironmentClaim:
    project: str
    environment: str
    installation: str
    names: ResourceNames = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", ResourceNames(self.project, self.environment))


@dataclass(frozen=True)
class ObjectOwner:
    """Who an existing object belongs to, by its labels (None: the label is absent)."""

    managed: bool
    project: str | None
    environment: str | None
    installation: str | None

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectOwner:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return cls(
            managed=labels.get(LABEL_MANAGED_BY) == MANAGED_BY,
            project=labels.get(LABEL_PROJECT),
            environment=labels.get(LABEL_ENVIRONMENT),
            installation=labels.get(LABEL_INSTALLATION),
        )

    def describe(self, installation: str, *, project: str | None = None) -> Text:
        """Whose it is, in words; the environment is named when the project is another
        than `project` (the one asking), where it tells how the names collided."""
        if not self.managed or self.project is None:
            return t("has no Slipway labels (Slipway did not create it)")
        environment = self.environment if self.environment and self.project != project else None
        if self.installation == installation:
            if environment:
                return t(
                    "belongs to environment '{environment}' of project '{project}' of this "
                    "installation",
                    environment=environment,
                    project=self.project,
                )
            return t("belongs to project '{project}' of this installation", project=self.project)
        other = self.installation or t("an older one, without an ID")
        if environment:
            return t(
                "belongs to environment '{environment}' of project '{project}' of another "
                "Slipway installation ({other})",
                environment=environment,
                project=self.project,
                other=other,
            )
        return t(
            "belongs to project '{project}' of another Slipway installation ({other})",
            project=self.project,
            other=other,
        )


@dataclass(frozen=True)
class Refusal:
    """Why a claim may not be applied over an object; `adoptable`: it is this very project's
    environment, only another installation's (`--adopt` takes it over)."""

    why: Text
    adoptable: bool


def refusal(spec: Claim, owner: ObjectOwner, *, adopt: bool = False) -> Refusal | None:
    """None when `spec` may be applied over an object owned by `owner`: it is this project's
    environment, of this installation (or of another, with `adopt`)."""
    same = owner.managed and owner.project == spec.project and owner.environment == spec.environment
    if same and (owner.installation == spec.installation or adopt):
        return None
    return Refusal(owner.describe(spec.installation, project=spec.project), adoptable=same)


# The owner's words said of several objects ("belong to", "have no").
_PLURALS: Final = {
    "has no Slipway labels (Slipway did not create it)": N_(
        "have no Slipway labels (Slipway did not create it)"
    ),
    "belongs to environment '{environment}' of project '{project}' of this installation": N_(
        "belong to environment '{environment}' of project '{project}' of this installation"
    ),
    "belongs to project '{project}' of this installation": N_(
        "belong to project '{project}' of this installation"
    ),
    "belongs to environment '{environment}' of project '{project}' of another Slipway "
    "installation ({other})": N_(
        "belong to environment '{environment}' of project '{project}' of another Slipway "
        "installation ({other})"
    ),
    "belongs to project '{project}' of another Slipway installation ({other})": N_(
        "belong to project '{project}' of another Slipway installation ({other})"
    ),
}


def _plural(why: Text) -> Text:
    plural = _PLURALS.get(why.template)
    return Text(plural, why.params) if plural else why


ADOPT_HINT = t("pass --adopt to take over this project from the other installation")


def conflict(found: Sequence[tuple[ObjectRef, Refusal]], *, step: str | None = None) -> Conflict:
    """One Conflict naming every object in the way and its owner, one line per owner."""
    by_owner: dict[Text, list[str]] = {}
    for ref, refused in found:
        where = f"{ref.namespace}/" if ref.namespace else ""
        by_owner.setdefault(refused.why, []).append(f"{ref.kind} {where}{ref.name}")
    lines = [
        t(
            "{objects} {why}",
            objects=", ".join(objects),
            why=why if len(objects) == 1 else _plural(why),
        )
        for why, objects in by_owner.items()
    ]
    adoptable = all(refused.adoptable for _, refused in found)
    hint = (
        ADOPT_HINT
        if adoptable
        else t(
            "choose another project or environment name; Slipway leaves these objects as they are"
        )
    )
    error = Conflict(join("; ", lines), step=step, system=SYSTEM, hint=hint)
    error.adoptable = adoptable
    return error


async def check_ownership(
    client: ClusterClient,
    specs: Sequence[Claim],
    *,
    adopt: bool = False,
    step: str | None = None,
) -> None:
    """Raises a `Conflict` naming every existing object of `specs` that is not theirs.

    One round trip in the common case: each environment's Namespace is read (concurrently);
    only where a Namespace exists and is this environment's are the objects inside it read
    (a re-run, a repair). Nothing is written."""
    namespaces = await asyncio.gather(
        *(client.read_object("Namespace", spec.names.namespace) for spec in specs)
    )
    found: list[tuple[ObjectRef, Refusal]] = []
    inside: list[Claim] = []
    for spec, namespace in zip(specs, namespaces, strict=True):
        if namespace is None:
            continue
        refused = refusal(spec, ObjectOwner.of(namespace), adopt=adopt)
        if refused is None:
            inside.append(spec)
        else:
            found.append((ObjectRef(ResourceKind.NAMESPACE, spec.names.namespace, None), refused))
    refs = [
        (spec, info.ref(spec.names)) for spec in inside for info in apply_order() if info.namespaced
    ]
    objects = await asyncio.gather(
        *(client.read_object(ref.kind, ref.name, ref.namespace) for _, ref in refs)
    )
    for (spec, ref), obj in zip(refs, objects, strict=True):
        if obj is not None and (refused := refusal(spec, ObjectOwner.of(obj), adopt=adopt)):
            found.append((ref, refused))
    if found:
        raise conflict(found, step=step)
