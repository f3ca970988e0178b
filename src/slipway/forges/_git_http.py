"""Pushing a `Snapshot` over git smart HTTP: one request to read the branch, one to push.

The same code for every forge, over the connection's own httpx client (keep-alive; the
User-Agent starts with `git/`, which GitHub requires for smart HTTP, then names Slipway), with
basic auth sent up front so no 401 challenge costs a round trip.
`GET info/refs?service=git-receive-pack` tells where the branch is; when it is already at the
snapshot's commit nothing is sent; when it is absent one `POST git-receive-pack` carries the
ref update and the pack; when it holds another commit, the caller's `judge` decides (it reads
that commit, and keeps it or refuses, or lets the pack replace it). dulwich encodes the pack
and reads the pkt-lines; httpx carries them without a thread.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Final

import httpx
from dulwich.client import read_pkt_refs_v1
from dulwich.errors import GitProtocolError
from dulwich.protocol import PktLineParser, pkt_line

from slipway import __version__
from slipway.domain.text import t
from slipway.forges._clients import GIT_USER_AGENT, map_transport_errors
from slipway.forges._errors import Site, classify
from slipway.forges._snapshot import Snapshot
from slipway.forges.base import Commit, GitCredentials, Repository
from slipway.retry import Retryable, RetryPolicy, retry_async

SERVICE: Final = "git-receive-pack"
ADVERTISEMENT: Final = f"application/x-{SERVICE}-advertisement"
REQUEST: Final = f"application/x-{SERVICE}-request"
RESULT: Final = f"application/x-{SERVICE}-result"
ZERO_SHA: Final = "0" * 40
_PRINTABLE = frozenset(string.printable) - frozenset("\r\n\t\x0b\x0c")
# Given the commit a branch holds (not the snapshot's): None to replace it, or the commit to
# leave the branch at; or it raises.
Judge = Callable[[str], Awaitable[Commit | None]]


@dataclass(frozen=True)
class Advertisement:
    """What `info/refs` said: every ref (name -> id) and the server's capabilities."""

    refs: Mapping[str, str]
    capabilities: frozenset[bytes]


@dataclass(frozen=True)
class Report:
    """receive-pack's `report-status`: the unpack result and each ref's (None: ok)."""

    unpack: str
    refs: Mapping[str, str | None]


def _packets(body: bytes) -> list[bytes | None]:
    """Every pkt-line of `body` (None for a flush)."""
    found: list[bytes | None] = []
    parser = PktLineParser(found.append)
    parser.parse(body)
    if parser.get_tail():
        raise GitProtocolError("truncated pkt-line")
    return found


def parse_advertisement(body: bytes) -> Advertisement:
    """The refs a receive-pack advertisement lists (an empty repository lists none)."""
    packets = _packets(body)
    if packets and packets[0] is not None and packets[0].startswith(b"# service="):
        packets = packets[2:]  # the service line and its flush
    lines: list[bytes] = []
    for packet in packets:
        if packet is None:
            break
        lines.append(packet)
    refs, capabilities = read_pkt_refs_v1(lines)
    return Advertisement(
        {ref.decode(): sha.decode("ascii") for ref, sha in refs.items()},
        frozenset(capabilities),
    )


def update_request(
    ref: str, old: str, new: str, pack: bytes, capabilities: frozenset[bytes]
) -> bytes:
    """The receive-pack request body: one ref update asking for a status report, then the
    pack."""
    wanted = [b"report-status"] if b"report-status" in capabilities else []
    if any(c.startswith(b"agent") for c in capabilities):
        wanted.append(f"agent=slipway/{__version__}".encode())
    command = f"{old} {new} {ref}".encode() + b"\0" + b" ".join(wanted)
    return pkt_line(command) + pkt_line(None) + pack


def parse_report(body: bytes) -> Report:
    """`unpack ok` / `unpack <error>`, then `ok <ref>` or `ng <ref> <reason>` per ref."""
    lines = [p.rstrip(b"\n").decode("utf-8", "replace") for p in _packets(body) if p is not None]
    if not lines or not lines[0].startswith("unpack "):
        raise GitProtocolError("no status report")
    refs: dict[str, str | None] = {}
    for line in lines[1:]:
        status, _, rest = line.partition(" ")
        ref, _, reason = rest.partition(" ")
        if status == "ok":
            refs[ref] = None
        elif status == "ng":
            refs[ref] = reason or "refused"
    return Report(lines[0].removeprefix("unpack "), refs)


class GitPush:
    """Pushes snapshots for one forge site over its connection's HTTP client."""

    def __init__(
        self,
        site: Site,
        *,
        client: Callable[[], httpx.AsyncClient],
        credentials: Callable[[], GitCredentials],
        policy: RetryPolicy,
        scope: str,
    ) -> None:
        self._site = site
        self._client = client
        self._credentials = credentials
        self._policy = policy
        self._scope = scope

    async def push(self, repo: Repository, snapshot: Snapshot, *, judge: Judge) -> Commit:
        """Leave `repo`'s default branch at `snapshot`'s commit, or where `judge` keeps it.
        Each attempt reads the branch first, so a retry after a push that landed unseen
        sends nothing again; `judge` is asked once per commit found there."""
        ref = f"refs/heads/{repo.default_branch}"
        url = repo.clone_url.rstrip("/")
        credentials = self._credentials()
        auth = httpx.BasicAuth(credentials.username, credentials.password.get_secret_value())
        packed: list[bytes] = []  # built once, when first needed
        replaceable: set[str] = set()  # commits `judge` let the pack replace

        async def once() -> Commit:
            advertised = await self._advertisement(repo, url, auth)
            current = advertised.refs.get(ref)
            if current is not None and current not in (snapshot.sha, *replaceable):
                kept = await judge(current)
                if kept is not None:
                    return kept
                replaceable.add(current)
            if current != snapshot.sha:
                if not packed:
                    packed.append(await asyncio.to_thread(snapshot.pack))
                body = update_request(
                    ref, current or ZERO_SHA, snapshot.sha, packed[0], advertised.capabilities
                )
                report = await self._send(repo, url, auth, body)
                self._check(repo, report, ref, credentials)
            return Commit(sha=snapshot.sha, tree_sha=snapshot.tree_sha)

        return await retry_async(once, policy=self._policy)

    async def _advertisement(self, repo: Repository, url: str, auth: httpx.Auth) -> Advertisement:
        action = t(
            "push to {full_name} over git", full_name=repo.full_name
        )  # receive-pack's discovery: a push
        with map_transport_errors(self._site, action):
            answer = await self._client().get(
                f"{url}/info/refs",
                params={"service": SERVICE},
                headers={
                    "Accept": ADVERTISEMENT,
                    "Cache-Control": "no-cache",
                    "User-Agent": GIT_USER_AGENT,
                },
                auth=auth,
            )
        self._raise_for_status(answer, repo, action)
        if answer.headers.get("content-type", "").split(";")[0].strip() != ADVERTISEMENT:
            raise self._not_smart(repo)
        try:
            return parse_advertisement(answer.content)
        except (GitProtocolError, ValueError) as exc:
            raise self._not_smart(repo) from exc

    async def _send(self, repo: Repository, url: str, auth: httpx.Auth, body: bytes) -> Report:
        action = t("push to {full_name} over git", full_name=repo.full_name)
        with map_transport_errors(self._site, action):
            answer = await self._client().post(
                f"{url}/{SERVICE}",
                content=body,
                headers={
                    "Content-Type": REQUEST,
                    "Accept": RESULT,
                    "User-Agent": GIT_USER_AGENT,
                },
                auth=auth,
            )
        self._raise_for_status(answer, repo, action)
        try:
            return parse_report(answer.content)
        except (GitProtocolError, ValueError) as exc:
            raise self._not_smart(repo) from exc

    def _raise_for_status(self, answer: httpx.Response, repo: Repository, action: str) -> None:
        if answer.is_success:
            return
        raise classify(
            answer.status_code,
            answer.headers,
            site=self._site,
            action=action,
            scope=self._scope,
            not_found=self._site.not_found(
                t(
                    "{full_name} was not found over git at {clone_url}",
                    full_name=repo.full_name,
                    clone_url=repo.clone_url,
                ),
                hint=t("check that the repository exists and that the token may write to it"),
            ),
        )

    def _check(
        self, repo: Repository, report: Report, ref: str, credentials: GitCredentials
    ) -> None:
        """A failed unpack is worth another try; a refused ref update is not."""
        site, branch = self._site, ref.removeprefix("refs/heads/")
        if report.unpack != "ok":
            raise Retryable(
                site.error(
                    t(
                        "{label} could not store the objects pushed to {full_name} ({plain})",
                        label=site.label,
                        full_name=repo.full_name,
                        plain=_plain(report.unpack, credentials),
                    ),
                    hint=t("{label} had a server error; try again later", label=site.label),
                )
            )
        reason = report.refs.get(ref, "no status reported for the branch")
        if reason is not None:
            raise site.error(
                t(
                    "{label} refused to update the branch {branch} of {full_name}: {plain}",
                    label=site.label,
                    branch=branch,
                    full_name=repo.full_name,
                    plain=_plain(reason, credentials),
                ),
                hint=t(
                    "Slipway replaces the branch {branch} with its first commit: "
                    "check the branch protection of {full_name} on {label} "
                    "(force pushes), then run the command again",
                    branch=branch,
                    full_name=repo.full_name,
                    label=site.label,
                ),
            )

    def _not_smart(self, repo: Repository) -> Exception:
        label = self._site.label
        return self._site.error(
            t(
                "{label} did not answer as a git smart HTTP server at {clone_url}",
                label=label,
                clone_url=repo.clone_url,
            ),
            hint=t(
                "check that {label} allows git over HTTPS, or push through "
                "its REST API with SLIPWAY_PUSH=api",
                label=label,
            ),
        )


def _plain(text: str, credentials: GitCredentials) -> str:
    """A server's reason, fit for a message: one line, printable, short, never the token."""
    secret = credentials.password.get_secret_value()
    cleaned = "".join(c for c in text if c in _PRINTABLE).replace(secret, "***").strip()
    return cleaned[:200] or "no reason given"
