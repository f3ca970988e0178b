"""A progress event keeps its message's template and parameters, so the CLI, the SSE stream
and the web page can show it in their reader's language; a plain message stays as it is."""

from __future__ import annotations

from collections.abc import Callable

from slipway.domain.model import Step
from slipway.domain.text import Text, t
from slipway.i18n import localize
from slipway.store import (
    Project,
    SessionFactory,
    append_event,
    events_after,
    get_project_by_id,
    set_project_status,
    start_run,
    unit_of_work,
)

NewProject = Callable[..., Project]


def test_a_translatable_message_comes_back_translatable(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        project_id = new_project(session, "shop").id
        inner = t("project {name} recorded", name="shop")
        append_event(
            session,
            project_id=project_id,
            step=Step.CREATE_PROJECT,
            percent=10,
            message=t("{env}: failed: {error}", env="dev", error=inner),
        )
        append_event(
            session, project_id=project_id, step=Step.LOAD_TEMPLATE, percent=20, message="plain"
        )
    with unit_of_work(factory) as session:
        first, second = (
            e.to_progress_event("shop") for e in events_after(session, project_id=project_id)
        )
    assert first.message == "dev: failed: project shop recorded"
    assert isinstance(first.message, Text)
    assert localize(first.message, "zh_CN") == "dev：失败：已记录项目 shop"
    assert second.message == "plain"
    assert not isinstance(second.message, Text)
    assert localize(second.message, "zh_CN") == "plain"


def test_a_projects_error_comes_back_translatable_and_a_new_run_clears_it(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        project_id = new_project(session, "shop").id
        set_project_status(
            session,
            project_id=project_id,
            status="failed",
            failed_step="create_repository",
            error_message=t("project {name} has no recorded repository", name="shop"),
        )
    with unit_of_work(factory) as session:
        project = get_project_by_id(session, project_id=project_id)
        assert project is not None
        assert project.error_message == "project shop has no recorded repository"
        assert localize(project.error_text, "zh_CN") == "项目 shop 没有已记录的仓库"
        start_run(session, project_id=project_id, status="initializing", workflow_id="w-2")
    with unit_of_work(factory) as session:
        project = get_project_by_id(session, project_id=project_id)
        assert project is not None
        assert (project.error_message, project.error_text, project.error_template) == (
            None,
            None,
            None,
        )
