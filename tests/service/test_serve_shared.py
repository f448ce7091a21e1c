"""Two `advisory serve` instances on one PostgreSQL state, each with its own web endpoint:
the travellers' alerts and the desk's summary once between them; one killed, the other
goes on sending (a new version of the advisory), reminding and escalating, each once,
and answers the links the first one's messages carry."""

from __future__ import annotations

import re
import signal
from collections import Counter
from pathlib import Path

import httpx
from support.duty import SECRET, on_trips
from support.project import VE, Project, body, config_text, smtp_section
from support.serve import serving, stop, wait_for
from support.smtp import Server, free_port

from advisory.domain.urls import Database

TRAVELLERS = on_trips("Ana", "Ben")


def instance(project: Project, smtpd: Server, database: Database, name: str) -> tuple[Path, int]:
    """One instance's config: the same as every other's but for the port it listens on."""
    port = free_port()
    text = (
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd),
                    subscribers=TRAVELLERS)
        + f'\n[http]\nlisten = "127.0.0.1:{port}"\npublic_url = "https://alerts.example.org"\n'
        + '\n[escalation]\nafter = "10s"\ndesk = "duty@example.org"\n'
    ).replace('state = "state.sqlite3"', f'state = "{database.url}"\nlease = "2s"')  # fmt: skip
    path = project.root / f"{name}.toml"
    path.write_text(text)
    return path, port


def up(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.ConnectError:
        return False


def test_with_one_of_two_instances_killed_the_other_sends_and_escalates(
    project: Project, smtpd: Server, postgresql: Database
) -> None:
    first, _ = instance(project, smtpd, postgresql, "first")
    second, port = instance(project, smtpd, postgresql, "second")
    with serving(project, "--check-every", "1", env=SECRET, config=first) as one:
        wait_for(lambda: len(smtpd.handler.to("duty@example.org")) == 1)  # the summary
        with serving(project, "--check-every", "1", env=SECRET, config=second) as two:
            site = f"http://127.0.0.1:{port}"
            wait_for(lambda: up(f"{site}/healthz"))
            one.send_signal(signal.SIGKILL)
            one.communicate()
            # The second answers the links of the alerts the first one sent.
            token = re.search(r"https://alerts\.example\.org/ack/([A-Za-z0-9_-]{22})",
                              body(smtpd.handler.to("ana@example.org")[0], "html"))  # fmt: skip
            assert token is not None
            confirmed = httpx.post(f"{site}/ack/{token.group(1)}", data={})
            assert confirmed.status_code == 200 and "you have confirmed" in confirmed.text
            project.advisory("ve", VE.replace("Foreigners risk", "Visitors risk"))  # news
            wait_for(lambda: len(smtpd.handler.to("ben@example.org")) >= 2, timeout=30)
            desk = lambda: [m["Subject"] for m in smtpd.handler.to("duty@example.org")]  # noqa: E731
            wait_for(lambda: any(s.startswith("Not confirmed") for s in desk()), timeout=40)
            code, err = stop(two)
    assert code == 0, err
    assert "Traceback" not in err
    copies = Counter(r.message["Message-ID"] for r in smtpd.handler.received)
    assert set(copies.values()) == {1}, copies  # nothing twice, across the two
    for reader in ("ana", "ben"):  # the briefing, then the news (and reminders of it)
        subjects = [m["Subject"] for m in smtpd.handler.to(f"{reader}@example.org")]
        assert subjects[0].startswith("Before your trip: Venezuela"), subjects
        assert "Venezuela travel advisory updated: Level 4 – Do not travel" in subjects
    escalations = [m for m in smtpd.handler.to("duty@example.org")
                   if m["Subject"].startswith("Not confirmed")]  # fmt: skip
    assert "Ben <ben@example.org>" in body(escalations[0])
