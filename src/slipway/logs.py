"""structlog set-up: JSON lines in production, readable lines in a terminal; secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(token|password|secret|private_key|authorization|identity)", re.I)
REDACTED = "**********"


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Never let a field whose name says 'secret' reach a log line, whatever its value."""
    for key in list(event_dict):
        if _SECRET_KEYS.search(key):
            event_dict[key] = REDACTED
    return event_dict


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    as_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        # Resolve sys.stderr per logger, not once: a test runner may swap and close it.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )


class _CurrentStderr:
    """Whatever `sys.stderr` is at the time of each write: a handler bound to the stream of
    the moment it was built keeps writing to it after a test runner swaps and closes it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


DBOS_LOGGER = "dbos"


def route_dbos_logs() -> None:
    """Give DBOS's logger its console handler before DBOS builds one bound to the stderr of
    that moment (DBOS adds its own only to a logger without handlers). Same format as DBOS's."""
    logger = logging.getLogger(DBOS_LOGGER)
    if logger.handlers:
        return
    handler = logging.StreamHandler(_CurrentStderr())
    handler.name = "__dbos_console_log_handler__"  # DBOS's console level applies to it by name
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s [%(levelname)8s] (%(name)s:%(filename)s:%(lineno)s) %(message)s",
            datefmt="%H:%M:%S",
        )
    )
    logger.propagate = False
    logger.addHandler(handler)
