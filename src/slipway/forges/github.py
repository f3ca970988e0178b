"""GitHub and GitHub Enterprise through githubkit (the only module that imports it).

Pushing uses the Git Data API: text files inline in one `create tree` call, binary files as
blobs first, then one parentless commit and a forced ref update. A repository is created with
`auto_init` because the Git Data API answers 409 on an empty repository; the forced update then
replaces that initial commit, so the history holds exactly one Slipway commit. githubkit's own
retries and HTTP cache are off: `slipway.retry` is the one retry loop, and a cache would hide
the branch moving.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx
import pydantic
import structlog
from githubkit import GitHub
from githubkit.exception import GitHubException, RateLimitExceeded, RequestError, RequestFailed
from pydantic import SecretStr

from slipway.domain.errors import Conflict, SlipwayError
from slipway.domain.model import ForgeKind
from slipway.forges._errors import Site, classify, is_rate_limited
from slipway.forges._http import brief
from slipway.forges._marker import (
    TOPIC,
    commit_mark,
    commit_message,
    mark_description,
    project_from_description,
)
from slipway.forges._owner import (
    invitation_pending,
    may_not_create,
    not_member,
    other_user,
    unknown_owner,
)
from slipway.forges._tree import check_paths, is_text, tree_sha
from slipway.forges.base import Account, Commit, GitCredentials, Repository, TokenKind
from slipway.retry import DEFAULT_POLICY, Retryable, RetryPolicy, retry_async

if TYPE_CHECKING:
    from githubkit_schemas.latest.types import (
        ReposOwnerRepoGitTreesPostBodyPropTreeItemsType as TreeItem,
    )

T = TypeVar("T")
log = structlog.get_logger(__name__)
DEFAULT_API_URL = "https://api.github.com"
REQUIRED_SCOPES = ("repo",)
_APP_PREFIXES = ("ghs_", "ghu_")


def token_kind(token: str) -> TokenKind:
    """GitHub tokens say what they are in their prefix."""
    if token.startswith(_APP_PREFIXES):
        return TokenKind.APP
    if token.startswith("github_pat_"):
        return TokenKind.FINE_GRAINED
    if token.startswith("gho_"):
        return TokenKind.OAUTH
    if token.startswith("ghp_"):
        return TokenKind.PERSONAL
    return TokenKind.UNKNOWN


class GitHubForge:
    """`Forge` for github.com (`https://api.github.com`) or GHE (`https://HOST/api/v3`)."""

    kind = ForgeKind.GITHUB

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_API_URL,
        token: SecretStr,
        step: str | None = None,
        retry_policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._site = Site(ForgeKind.GITHUB, self.base_url, step)
        self._policy = retry_policy
        self._token = token
        self._gh = GitHub(
            token.get_secret_value(),
            base_url=self.base_url + "/",
            auto_retry=False,
            http_cache=False,
            timeout=httpx.Timeout(timeout, connect=10.0),
            user_agent="slipway",
        )
        self._login: str | None = None

    def __repr__(self) -> str:
        return f"GitHubForge(base_url={self.base_url!r})"

    # --- error mapping ----------------------------------------------------------------
    @contextmanager
    def _errors(
        self,
        action: str,
        *,
        scope: str | None = None,
        not_found: SlipwayError | None = None,
        conflict: SlipwayError | None = None,
        forbidden: SlipwayError | None = None,
        retry_not_found: bool = False,
    ) -> Iterator[None]:
        """githubkit's exceptions become Slipway's (or Retryable) inside this block; `forbidden`
        stands for a 403 that is not a rate limit, when the caller handles that itself."""
        try:
            yield
        except RateLimitExceeded as exc:
            error = classify(429, {}, site=self._site, action=action)
            assert isinstance(error, Retryable)
            raise Retryable(error.error, exc.retry_after.total_seconds()) from exc
        except RequestFailed as exc:
            response = exc.response
            headers = response.headers
            if response.status_code == 404 and retry_not_found and not_found is not None:
                raise Retryable(not_found) from exc
            if (
                response.status_code == 403
                and forbidden is not None
                and not is_rate_limited(403, headers)
            ):
                raise forbidden from exc
            needed = headers.get("x-accepted-oauth-scopes") or scope
            raise classify(
                response.status_code,
                headers,
                site=self._site,
                action=action,
                scope=needed,
                not_found=not_found,
                conflict=conflict,
            ) from exc
        except RequestError as exc:
            raise self._site.unreachable(action) from exc
        except (GitHubException, pydantic.ValidationError) as exc:
            raise self._site.error(
                f"unexpected answer from GitHub at {self.base_url} while trying to {action}",
                hint="check that the URL points at the GitHub API (GHE: https://HOST/api/v3)",
            ) from exc

    async def _call(
        self,
        action: str,
        call: Callable[[], Awaitable[T]],
        *,
        policy: RetryPolicy | None = None,
        **errors: Any,
    ) -> T:
        async def once() -> T:
            with self._errors(action, **errors):
                return await call()

        return await retry_async(once, policy=policy or self._policy)

    async def _optional(
        self, action: str, call: Callable[[], Awaitable[T]], **errors: Any
    ) -> T | None:
        """`call`'s answer, or None when GitHub answers 404."""
        missing = _Sentinel()
        try:
            return await self._call(action, call, not_found=missing, **errors)
        except SlipwayError as exc:
            if exc is missing:
                return None
            raise

    # --- account ----------------------------------------------------------------------
    async def validate_token(self) -> Account:
        response = await self._call(
            "read the token's account", self._gh.rest.users.async_get_authenticated
        )
        login = response.parsed_data.login
        self._login = login
        kind = token_kind(self._token.get_secret_value())
        header = response.headers.get("x-oauth-scopes")
        scopes = (
            None if header is None else tuple(s.strip() for s in header.split(",") if s.strip())
        )
        if scopes is not None and kind is TokenKind.UNKNOWN:
            kind = TokenKind.PERSONAL
        missing = () if scopes is None else tuple(s for s in REQUIRED_SCOPES if s not in scopes)
        return Account(ForgeKind.GITHUB, login, kind, scopes, missing)

    async def _own_login(self) -> str:
        if self._login is None:
            await self.validate_token()
        assert self._login is not None
        return self._login

    # --- owners -----------------------------------------------------------------------
    async def check_owner(self, owner: str | None) -> str:
        """Own account, else an organization whose active member may create repositories;
        GitHub never lets a token create repositories under another user."""
        login = await self._own_login()
        if owner is None or owner.lower() == login.lower():
            return login
        path = quote(owner, safe="")
        org = await self._optional(
            f"read the organization {owner}", lambda: self._gh.rest.orgs.async_get(path)
        )
        if org is None:
            user = await self._optional(
                f"read the account {owner}",
                lambda: self._gh.rest.users.async_get_by_username(path),
            )
            if user is None:
                raise unknown_owner(self._site, owner, login)
            raise other_user(self._site, owner, login)
        name = org.parsed_data.login
        unreadable = _Sentinel()
        try:
            membership = await self._optional(
                f"read the membership of {login} in {name}",
                lambda: self._gh.rest.orgs.async_get_membership_for_authenticated_user(name),
                forbidden=unreadable,
            )
        except SlipwayError as exc:
            if exc is not unreadable:
                raise
            log.info("github_membership_unreadable", owner=name, url=self.base_url)
            return name  # no `read:org`: creating the repository will tell
        if membership is None:
            raise not_member(self._site, name, login)
        data = membership.parsed_data
        if data.state == "pending":
            raise invitation_pending(self._site, name, login)
        allowed = getattr(data.permissions, "can_create_repository", True)
        if data.role != "admin" and allowed is False:
            raise may_not_create(self._site, name, login)
        return name

    # --- repositories -----------------------------------------------------------------
    def _repository(self, data: Any) -> Repository:
        topics = data.topics if isinstance(data.topics, list) else []
        return Repository(
            provider=ForgeKind.GITHUB,
            owner=data.owner.login,
            name=data.name,
            clone_url=data.clone_url,
            web_url=data.html_url,
            default_branch=data.default_branch or "main",
            private=data.private,
            description=data.description or "",
            project=project_from_description(data.description),
            topics=tuple(topics),
            id=str(data.id),
        )

    async def find_repository(self, *, owner: str | None, name: str) -> Repository | None:
        owner = owner or await self._own_login()
        response = await self._optional(
            f"read the repository {owner}/{name}",
            lambda: self._gh.rest.repos.async_get(owner, name),
        )
        return None if response is None else self._repository(response.parsed_data)

    async def ensure_repository(
        self, *, owner: str | None, name: str, project: str, private: bool, description: str
    ) -> Repository:
        login = await self._own_login()
        owner = owner or login
        existing = await self.find_repository(owner=owner, name=name)
        if existing is not None:
            return self._site.reuse(existing, project)
        marked = mark_description(description, project)
        try:
            repo = await self._create(owner, name, login, marked, private)
        except _TakenMarker:  # created meanwhile by someone else: reuse only with our marker
            existing = await self.find_repository(owner=owner, name=name)
            if existing is None:
                raise self._site.error(
                    f"GitHub says {owner}/{name} exists but does not show it to this token",
                    hint="check the token's access to that owner, or choose another name",
                ) from None
            return self._site.reuse(existing, project)
        await self._call(
            f"set the topics of {owner}/{name}",
            lambda: self._gh.rest.repos.async_replace_all_topics(owner, name, names=[TOPIC]),
            not_found=_Sentinel(),
            retry_not_found=True,
        )
        return _with_topics(repo, (TOPIC,))

    async def _create(
        self, owner: str, name: str, login: str, description: str, private: bool
    ) -> Repository:
        taken = _TakenMarker()
        marked = description
        action = f"create the repository {owner}/{name}"
        if owner.lower() == login.lower():
            created = await self._call(
                action,
                lambda: self._gh.rest.repos.async_create_for_authenticated_user(
                    name=name, description=marked, private=private, auto_init=True
                ),
                scope="repo",
                conflict=taken,
            )
        else:
            created = await self._call(
                action,
                lambda: self._gh.rest.repos.async_create_in_org(
                    owner, name=name, description=marked, private=private, auto_init=True
                ),
                scope="repo",
                conflict=taken,
                not_found=self._site.not_found(
                    f"organization {owner} not found on GitHub at {self.base_url}",
                    hint="check the owner name, and that the token's account is a member "
                    "allowed to create repositories there",
                ),
            )
        return self._repository(created.parsed_data)

    async def delete_repository(self, repo: Repository) -> None:
        missing = _Sentinel()
        try:
            await self._call(
                f"delete the repository {repo.full_name}",
                lambda: self._gh.rest.repos.async_delete(repo.owner, repo.name),
                scope="delete_repo",
                not_found=missing,
            )
        except SlipwayError as exc:
            if exc is not missing:
                raise

    # --- push ---------------------------------------------------------------------------
    async def push_files(
        self, repo: Repository, files: Mapping[str, bytes], *, message: str, project: str
    ) -> Commit:
        check_paths(files)
        expected = tree_sha(files)
        owner, name, branch = repo.owner, repo.name, repo.default_branch
        git = self._gh.rest.git
        head = await self._head(repo)
        if head is not None:
            current = await self._call(
                f"read the head commit of {repo.full_name}",
                lambda: git.async_get_commit(owner, name, head),
            )
            data = current.parsed_data
            mark = commit_mark(data.message)
            if (
                not data.parents
                and data.tree.sha == expected
                and mark is not None
                and mark.project == project
            ):
                return Commit(sha=data.sha, tree_sha=data.tree.sha)
        entries = await self._tree_entries(repo, files)
        tree = await self._call(
            f"write the file tree of {repo.full_name}",
            lambda: git.async_create_tree(owner, name, tree=entries),
        )
        tree_id = tree.parsed_data.sha
        text = commit_message(message, project=project, tree_sha=tree_id)
        commit = await self._call(
            f"write the commit of {repo.full_name}",
            lambda: git.async_create_commit(owner, name, message=text, tree=tree_id, parents=[]),
        )
        sha = commit.parsed_data.sha
        if head is None:
            await self._call(
                f"create the branch {branch} of {repo.full_name}",
                lambda: git.async_create_ref(owner, name, ref=f"refs/heads/{branch}", sha=sha),
            )
        else:
            await self._call(
                f"move the branch {branch} of {repo.full_name}",
                lambda: git.async_update_ref(owner, name, f"heads/{branch}", sha=sha, force=True),
            )
        return Commit(sha=sha, tree_sha=tree_id)

    async def _head(self, repo: Repository) -> str | None:
        """The branch's commit, or None when the branch (or the whole history) is missing.

        A 404 right after creation is GitHub catching up, so it is retried briefly.
        """
        empty, not_yet = _Sentinel(), _Sentinel()
        try:
            response = await self._call(
                f"read the branch {repo.default_branch} of {repo.full_name}",
                lambda: self._gh.rest.git.async_get_ref(
                    repo.owner, repo.name, f"heads/{repo.default_branch}"
                ),
                policy=brief(self._policy),
                not_found=not_yet,
                retry_not_found=True,
                conflict=empty,
            )
        except SlipwayError as exc:
            if exc is empty:
                return await self._initialise(repo)
            if exc is not_yet:
                return None
            raise
        return response.parsed_data.object_.sha

    async def _initialise(self, repo: Repository) -> str:
        """Give an empty repository (one created without `auto_init`) a first commit, since
        the Git Data API refuses writes to it; the push then replaces that commit."""
        created = await self._call(
            f"initialise the empty repository {repo.full_name}",
            lambda: self._gh.rest.repos.async_create_or_update_file_contents(
                repo.owner,
                repo.name,
                ".slipway",
                message="Initialise repository",
                content=base64.b64encode(b"slipway\n").decode(),
                branch=repo.default_branch,
            ),
        )
        sha = created.parsed_data.commit.sha
        if not isinstance(sha, str):
            raise self._site.error(
                f"GitHub did not report the first commit of {repo.full_name}",
                hint="run the command again",
            )
        return sha

    async def _tree_entries(self, repo: Repository, files: Mapping[str, bytes]) -> list[TreeItem]:
        """Text inline (no extra call however many files); each binary file as a blob first."""
        entries: list[TreeItem] = []
        for path, data in sorted(files.items()):
            if is_text(data):
                entries.append(
                    {"path": path, "mode": "100644", "type": "blob", "content": data.decode()}
                )
            else:
                sha = await self._upload_blob(repo, path, data)
                entries.append({"path": path, "mode": "100644", "type": "blob", "sha": sha})
        return entries

    async def _upload_blob(self, repo: Repository, path: str, data: bytes) -> str:
        encoded = base64.b64encode(data).decode()
        blob = await self._call(
            f"upload {path} to {repo.full_name}",
            lambda: self._gh.rest.git.async_create_blob(
                repo.owner, repo.name, content=encoded, encoding="base64"
            ),
        )
        return blob.parsed_data.sha

    # --- credentials --------------------------------------------------------------------
    def git_credentials(self) -> GitCredentials:
        """GitHub takes any username with a PAT or OAuth token, and `x-access-token` with an
        App token."""
        kind = token_kind(self._token.get_secret_value())
        username = "x-access-token" if kind is TokenKind.APP else "git"
        return GitCredentials(username=username, password=self._token)

    async def aclose(self) -> None:
        """Nothing to close: githubkit opens a client per request unless entered as a
        context manager, which does not carry across tasks."""


class _TakenMarker(Conflict):
    """Stands for "the name is taken" inside the adapter (a create racing another)."""

    def __init__(self) -> None:
        super().__init__("the repository name is taken", system="GitHub")


class _Sentinel(SlipwayError):
    """An answer the adapter handles itself (a 404 that means "absent", a 409 "empty")."""

    def __init__(self) -> None:
        super().__init__("handled inside the GitHub adapter", system="GitHub")


def _with_topics(repo: Repository, topics: tuple[str, ...]) -> Repository:
    return replace(repo, topics=topics)
