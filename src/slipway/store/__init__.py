"""Slipway's database: SQLAlchemy 2 models, keyword-only query functions, Alembic migrations
run from code, and encryption of forge tokens at rest. SQLite embedded, PostgreSQL in
production, one schema for both.

    engine = create_engine_for(settings.sqlalchemy_url)
    migrate(settings.sqlalchemy_url)
    factory = session_factory(engine)
    with unit_of_work(factory) as session:
        project = create_project(session, name=..., ...)
"""

from slipway.store.connections import (
    ForgeCredentials,
    ForgeRefresh,
    delete_forge_connection,
    get_forge_connection,
    list_forge_connections,
    load_forge_credentials,
    load_forge_refresh,
    load_forge_token,
    save_forge_connection,
    token_expiry,
    update_forge_tokens,
)
from slipway.store.counts import project_counts
from slipway.store.crypto import SecretKeyError, TokenCipher, load_or_create_key
from slipway.store.deploy_keys import (
    add_deploy_key,
    current_deploy_key,
    delete_deploy_key,
    deploy_keys,
    private_key,
    update_deploy_key,
)
from slipway.store.engine import (
    SessionFactory,
    create_engine_for,
    normalize_url,
    session_factory,
    unit_of_work,
)
from slipway.store.events import append_event, events_after, latest_event
from slipway.store.installation import installation_id
from slipway.store.migrate import alembic_config, current_revision, head_revision, migrate
from slipway.store.models import (
    FINAL_STATES,
    TOKEN_KINDS,
    ApiToken,
    Base,
    DeployKey,
    Environment,
    ExecutorLease,
    ForgeConnection,
    GitopsResource,
    Installation,
    Project,
    ProjectEvent,
    Repository,
    User,
    WebSession,
)
from slipway.store.overview import ProjectRows, project_overviews
from slipway.store.projects import (
    create_project,
    delete_project,
    get_environment,
    get_project,
    get_project_by_id,
    get_repository,
    list_environments,
    list_projects,
    namespace_conflict,
    project_not_found,
    project_parameters,
    record_repository,
    require_project,
    set_environment_status,
    set_project_status,
    set_project_workflow,
    start_run,
    upsert_environment,
)
from slipway.store.resources import list_gitops_resources, upsert_gitops_resource
from slipway.store.users import add_token, create_user, list_users, touch_token, user_by_token_hash
from slipway.store.web_sessions import (
    add_web_session,
    delete_web_session,
    set_web_session_oauth,
    web_session,
)

__all__ = [
    "FINAL_STATES",
    "TOKEN_KINDS",
    "ApiToken",
    "Base",
    "DeployKey",
    "Environment",
    "ExecutorLease",
    "ForgeConnection",
    "ForgeCredentials",
    "ForgeRefresh",
    "GitopsResource",
    "Installation",
    "Project",
    "ProjectEvent",
    "ProjectRows",
    "Repository",
    "SecretKeyError",
    "SessionFactory",
    "TokenCipher",
    "User",
    "WebSession",
    "add_deploy_key",
    "add_token",
    "add_web_session",
    "alembic_config",
    "append_event",
    "create_engine_for",
    "create_project",
    "create_user",
    "current_deploy_key",
    "current_revision",
    "delete_deploy_key",
    "delete_forge_connection",
    "delete_project",
    "delete_web_session",
    "deploy_keys",
    "events_after",
    "get_environment",
    "get_forge_connection",
    "get_project",
    "get_project_by_id",
    "get_repository",
    "head_revision",
    "installation_id",
    "latest_event",
    "list_environments",
    "list_forge_connections",
    "list_gitops_resources",
    "list_projects",
    "list_users",
    "load_forge_credentials",
    "load_forge_refresh",
    "load_forge_token",
    "load_or_create_key",
    "migrate",
    "namespace_conflict",
    "normalize_url",
    "private_key",
    "project_counts",
    "project_not_found",
    "project_overviews",
    "project_parameters",
    "record_repository",
    "require_project",
    "save_forge_connection",
    "session_factory",
    "set_environment_status",
    "set_project_status",
    "set_project_workflow",
    "set_web_session_oauth",
    "start_run",
    "token_expiry",
    "touch_token",
    "unit_of_work",
    "update_deploy_key",
    "update_forge_tokens",
    "upsert_environment",
    "upsert_gitops_resource",
    "user_by_token_hash",
    "web_session",
]
