"""A project folder of our own (config, advisory files, state, outbox) and the CLI as a
subprocess, as an operator runs it."""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from support.smtp import Server

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "s3cret-Pa55word!"


VE = """\
country = "VE"
level = 4
risks = ["detention"]
title = "Venezuela: do not travel"
summary = "Foreigners have been arrested arbitrarily and held as bargaining chips."
details = '''
Travel to Venezuela has long been advised against.

Foreigners risk arbitrary arrest.
'''
issued = 2026-11-24
source = "Travel Advisory Service"
source_url = "https://example.org/advisories/ve"
"""

CO = """\
country = "CO"
level = 2
risks = ["crime"]
title = "Colombia: exercise increased caution"
summary = "Crime is common in some areas."
issued = 2026-11-20
source = "Travel Advisory Service"
"""

SUBSCRIBERS = """\
[[subscribers]]
name = "Ana Pérez"
email = "ana@example.org"
countries = ["VE", "CO"]
min_level = 3
format = "html"

[[subscribers]]
name = "Ben Okafor"
email = "ben@example.org"
countries = ["*"]
min_level = 1
format = "text"

[[subscribers]]
name = "Duty pager"
email = "pager@example.org"
countries = ["VE"]
min_level = 4
format = "alert"

[[subscribers]]
name = "Chloé Martin"
email = "chloe@example.org"
countries = ["CO"]
min_level = 3
format = "html"
"""


@dataclass
class Project:
    """A config folder of our own: config file, advisory files, state and outbox."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "advisory.toml"

    @property
    def state(self) -> Path:
        return self.root / "state.sqlite3"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def write_config(self, body: str) -> None:
        self.config.write_text(textwrap.dedent(body), encoding="utf-8")

    def advisory(self, name: str, body: str) -> Path:
        path = self.root / "advisories" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(body, encoding="utf-8")
        return path

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, config=self.config, env=env)


def config_text(
    *,
    delivery: str = 'transport = "maildir"\nmaildir = "outbox"',
    smtp: str = "",
    sender_extra: str = 'unsubscribe = "mailto:unsubscribe@example.org"',
    subscribers: str = SUBSCRIBERS,
) -> str:
    return (
        '[service]\nstate = "state.sqlite3"\nadvisories = "advisories"\ntimezone = "UTC"\n\n'
        f'[sender]\naddress = "advisories@example.org"\nname = "Travel Advisory Service"\n'
        f"{sender_extra}\n\n[delivery]\n{delivery}\n\n"
        + (f"[smtp]\n{smtp}\n\n" if smtp else "")
        + subscribers
    )


def smtp_section(server: Server, **extra: Any) -> str:
    lines = {
        "host": f'"{server.host}"',
        "port": str(server.port),
        "security": '"starttls"' if server.ca_file else '"none"',
        "timeout": "10",
    }
    if server.ca_file:
        lines["ca_file"] = f'"{server.ca_file}"'
    lines.update(extra)
    return "\n".join(f"{k} = {v}" for k, v in lines.items())


def run_cli(
    *args: str,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m advisory ARGS --config CONFIG` in a subprocess, as an operator runs it."""
    argv = [sys.executable, "-m", "advisory", *args]
    if config is not None:
        argv += ["--config", str(config)]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISORY_")}
    full_env.update(env or {})
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=90, env=full_env, cwd=cwd or ROOT, check=False
    )


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def messages(outbox: Path) -> list[EmailMessage]:
    """Every message in the Maildir, parsed (and its headers decoded) by the email package."""
    box = mailbox.Maildir(outbox, factory=None, create=False)
    return [parse(box.get_bytes(key)) for key in box.iterkeys()]


def body(msg: EmailMessage, subtype: str = "plain") -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def many(project: Project, n: int, smtp: str) -> None:
    rows = "".join(f"Person {i},p{i}@example.org,VE,1,text\n" for i in range(n))
    (project.root / "people.csv").write_text("name,email,countries,min_level,format\n" + rows)
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp, subscribers="").replace(
            'timezone = "UTC"', 'timezone = "UTC"\nsubscribers_file = "people.csv"'
        )
    )
