"""The use cases that the CLI, the REST API and the web UI all call, and only these.

They never print and never raise HTTP errors: they return the typed views of `views` or raise
`SlipwayError`s. Use cases that reach a forge or the cluster are coroutines (`await` them; a
synchronous face uses `asyncio.run`); those that only read the database are plain functions.
"""

from slipway.bootstrap import App
from slipway.domain.actors import Actor
from slipway.pipeline.runtime import Worker
from slipway.service.access import (
    has_deploy_key,
    rotate_credentials,
    start_rotation,
)
from slipway.service.app import application, load_settings
from slipway.service.deletion import DeleteStarted, DeletionView, delete_project, start_delete
from slipway.service.doctor import doctor
from slipway.service.forges import connect_forge, disconnect_forge, list_connections
from slipway.service.metrics import metrics_exposition
from slipway.service.projects import (
    CreateRequest,
    create_project,
    dry_run,
    plan_project,
    record_project,
)
from slipway.service.readiness import Readiness, readiness
from slipway.service.reading import (
    follow_events,
    last_sequence,
    list_projects,
    list_templates,
    project_events,
    show_project,
    show_template,
)
from slipway.service.repair import repair_project, stuck_projects
from slipway.service.users import (
    CreatedUser,
    UserView,
    authenticate,
    create_user,
    delete_user,
    list_users,
    new_token,
)
from slipway.service.views import (
    ConnectionView,
    DryRun,
    EnvironmentView,
    ProjectView,
    RepositoryView,
    ResourceView,
    RunStarted,
)
from slipway.service.workers import ResumedRun, run_worker, running_service, running_worker
from slipway.templates import TemplateInfo

__all__ = [
    "Actor",
    "App",
    "ConnectionView",
    "CreateRequest",
    "CreatedUser",
    "DeleteStarted",
    "DeletionView",
    "DryRun",
    "EnvironmentView",
    "ProjectView",
    "Readiness",
    "RepositoryView",
    "ResourceView",
    "ResumedRun",
    "RunStarted",
    "TemplateInfo",
    "UserView",
    "Worker",
    "application",
    "authenticate",
    "connect_forge",
    "create_project",
    "create_user",
    "delete_project",
    "delete_user",
    "disconnect_forge",
    "doctor",
    "dry_run",
    "follow_events",
    "has_deploy_key",
    "last_sequence",
    "list_connections",
    "list_projects",
    "list_templates",
    "list_users",
    "load_settings",
    "metrics_exposition",
    "new_token",
    "plan_project",
    "project_events",
    "readiness",
    "record_project",
    "repair_project",
    "rotate_credentials",
    "run_worker",
    "running_service",
    "running_worker",
    "show_project",
    "show_template",
    "start_delete",
    "start_rotation",
    "stuck_projects",
]
