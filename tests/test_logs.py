"""Log lines: stdlib logging, our events and the libraries' warnings in one stream."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from advisory import logs
from advisory.logs import Log


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    yield out
    logs.setup("text")  # back to stderr for what follows


def test_json_lines_have_a_level_and_the_libraries_warnings_too(stream: io.StringIO) -> None:
    logs.setup("json", stream)
    Log()("check", "due 3, delivered 3", due=3)
    Log()("error", "check: the state file is gone")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job %r was missed", "check")
    logging.getLogger("httpx").info("HTTP Request: GET https://example.org")  # below WARNING
    logging.getLogger("apscheduler.executors.default").warning(
        'Execution of job "check" skipped: maximum number of running instances reached (1)'
    )  # the jobs take turns by design: not news
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["level"], x["event"]) for x in lines] == [
        ("info", "check"), ("error", "error"), ("warning", "apscheduler.scheduler"),
    ]  # fmt: skip
    assert lines[0]["due"] == 3 and lines[0]["message"] == "due 3, delivered 3"
    assert lines[2]["message"] == "Run time of job 'check' was missed"
    assert {"time", "level", "event", "message"} <= set(lines[2])


def test_text_lines_read_as_before(stream: io.StringIO) -> None:
    logs.setup("text", stream)
    Log()("started", "check every 60s")
    logging.getLogger("aiosmtplib").warning("a \x1b[31mcoloured\x1b[0m reply")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("Z started: check every 60s")
    assert "Z aiosmtplib warning: a " in second and "\x1b" not in second
