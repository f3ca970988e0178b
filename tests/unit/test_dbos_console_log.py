"""DBOS's console log lines follow `sys.stderr` as it is when they are written: a handler
bound to the stderr of the moment DBOS started wrote to a closed file once a test runner's
capture ended (and then DBOS's own start-up, which flushes its handlers, failed)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from slipway.logs import DBOS_LOGGER, route_dbos_logs


def own_handlers(logger: logging.Logger) -> list[logging.Handler]:
    """The logger's handlers but pytest's capturing ones (which it adds to DBOS's logger
    too, since that one does not propagate)."""
    return [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]


@pytest.fixture
def bare_dbos_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger(DBOS_LOGGER)
    saved = (list(logger.handlers), logger.propagate)
    logger.handlers.clear()
    yield logger
    logger.handlers[:] = saved[0]
    logger.propagate = saved[1]


def test_dbos_log_lines_go_to_the_stderr_of_the_moment(
    bare_dbos_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare_dbos_logger.handlers.clear()  # as before DBOS's first start in a process
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    route_dbos_logs()
    route_dbos_logs()  # idempotent: still one handler
    assert len(own_handlers(bare_dbos_logger)) == 1

    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    bare_dbos_logger.warning("recovering workflow %s", "slipway-7-1")
    for handler in own_handlers(bare_dbos_logger):
        handler.flush()  # what DBOS does at start-up; a closed stream raised here
    assert "[ WARNING] (dbos:" in second.getvalue()
    assert "recovering workflow slipway-7-1" in second.getvalue()


def test_a_handler_already_there_is_kept(bare_dbos_logger: logging.Logger) -> None:
    bare_dbos_logger.handlers.clear()
    mine = logging.NullHandler()
    bare_dbos_logger.addHandler(mine)
    route_dbos_logs()
    assert bare_dbos_logger.handlers == [mine]
