"""Opening Slipway for one command or one server: settings, database and wiring, with their
failures turned into errors a person can act on (naming the variable, never its value)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from slipway.bootstrap import App, bootstrap
from slipway.config import Settings, get_settings
from slipway.domain.errors import ExternalError, InvalidInput
from slipway.domain.text import t
from slipway.service.token_refresh import watch_token_refreshes


def load_settings() -> Settings:
    """Settings from the environment, or the first bad variable as `InvalidInput`."""
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        variable = name if name.isupper() else f"SLIPWAY_{name.upper()}"
        raise InvalidInput(
            variable, str(first["msg"]), hint=t("fix it in the environment or in .env")
        ) from None


@contextmanager
def application(settings: Settings | None = None) -> Iterator[App]:
    """The wired application (database migrated, key loaded), closed on exit; a token it
    refreshes is carried on to the git Secrets that hold it (`watch_token_refreshes`)."""
    settings = settings or load_settings()
    try:
        instance = bootstrap(settings)
    except SQLAlchemyError as exc:
        # The driver's text may quote the URL; name the database with its password hidden.
        where = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
        raise ExternalError(
            t("cannot open the database {where} ({name})", where=where, name=type(exc).__name__),
            system="database",
            hint=t(
                "check SLIPWAY_DATABASE_URL (or SLIPWAY_DATA_DIR): is the "
                "database running and writable?"
            ),
        ) from None
    watch_token_refreshes(instance)
    try:
        yield instance
    finally:
        instance.close()
