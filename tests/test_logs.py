"""Log lines: stdlib logging, our events and the libraries' warnings in one stream."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
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


def test_what_the_state_says_in_one_line_psycopg_does_not_say_again() -> None:
    # In a process of its own, as the CLI's: with no handler of ours, Python's last-resort
    # handler would print the driver's warning on stderr beside the run's own line.
    script = (
        "import logging; from advisory import logs; logs.setup('text'); "
        "logging.getLogger('psycopg').warning('error ignored terminating %r: %s', "
        "'<psycopg.Pipeline [BAD]>', 'consuming input failed')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
