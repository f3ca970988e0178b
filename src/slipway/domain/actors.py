"""Who is asking: a user of the API (by their token), or the installation's operator on the
command line. Every use case that reads or changes a project or a connection takes one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """A user (`user_id`) or the operator (`user_id` None). Admins and the operator see and
    change everything; a user only what they created."""

    user_id: int | None
    name: str
    is_admin: bool = False

    @classmethod
    def operator(cls) -> Actor:
        """The command line: full access, and what it creates belongs to no user."""
        return cls(user_id=None, name="operator", is_admin=True)

    @property
    def sees_all(self) -> bool:
        return self.is_admin or self.user_id is None

    def may_see(self, owner_id: int | None) -> bool:
        """Whether a project or connection owned by user `owner_id` (None: the operator's) is
        visible to this actor."""
        return self.sees_all or (owner_id is not None and owner_id == self.user_id)


# The default actor of every use case: the command line, as before users existed.
OPERATOR = Actor.operator()
