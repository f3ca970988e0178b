"""What a SelfSubjectRulesReview says the user may do, and RBAC's matching of one request
against it (`rbac/v1` `VerbMatches`, `APIGroupMatches`, `ResourceMatches`).

Rules are additive, so a rule listed is a permission held even when the review is
`incomplete` (an authorizer, such as a webhook, could not list its own); only what the list
does not show then needs a SelfSubjectAccessReview.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ALL: Final = "*"

# A namespace that cannot exist (namespace names are DNS labels, without dots), so no
# RoleBinding can live in it: a rules review there lists exactly the rules bound cluster-wide,
# which is what a SelfSubjectAccessReview without a namespace is decided by.
CLUSTER_WIDE: Final = "slipway.cluster-wide"


@dataclass(frozen=True)
class ResourceRule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def allows(self, verb: str, group: str, resource: str) -> bool:
        """For a request on every object of the resource: a rule limited to some names does
        not grant it."""
        return (
            not self.resource_names
            and (ALL in self.verbs or verb in self.verbs)
            and (ALL in self.api_groups or group in self.api_groups)
            and (ALL in self.resources or resource in self.resources)
        )


@dataclass(frozen=True)
class RulesReview:
    rules: tuple[ResourceRule, ...]
    incomplete: bool = False
    evaluation_error: str = ""

    def allows(self, verb: str, group: str, resource: str) -> bool:
        return any(rule.allows(verb, group, resource) for rule in self.rules)
