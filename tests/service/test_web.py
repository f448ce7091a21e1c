"""The web endpoint of a real `advisory serve` subprocess, on a free 127.0.0.1 port,
delivering to a real SMTP server: one-click unsubscribe (RFC 8058), what GET must not
do, what a forged link and a hostile request get, and health."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from prometheus_client.parser import text_string_to_metric_families
from support.project import ROOT, VE, Project, config_text, messages, run_cli, smtp_section
from support.serve import serving, stop, wait_for
from support.smtp import Server, free_port

from advisory.inputs import config as config_file
from advisory.mail.rendering import Renderer
from advisory.service.scheduler import Service
from advisory.state import open_store

SECRET = {"ADVISORY_TOKEN_SECRET": "a-secret-of-twenty-chars"}


def with_http(project: Project, smtpd: Server, port: int) -> None:
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd))
        + f'\n[http]\nlisten = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}"\n'
    )


@pytest.fixture
def site(project: Project, smtpd: Server) -> Iterator[str]:
    """`serve` with its endpoint up, after the first check delivered to everyone."""
    port = free_port()
    with_http(project, smtpd, port)
    with serving(project, "--check-every", "0.5", env=SECRET) as proc:
        wait_for(lambda: len(smtpd.handler.received) == 4)
        wait_for(lambda: _up(port))
        yield f"http://127.0.0.1:{port}"
        code, err = stop(proc)
        assert code == 0, err
        assert "Traceback" not in err and "Error handling request" not in err


def _up(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def link(smtpd: Server, address: str) -> str:
    """The https (here: loopback http) link of the reader's List-Unsubscribe."""
    header = smtpd.handler.to(address)[-1]["List-Unsubscribe"]
    return str(header).split(">")[0].lstrip("<")


def raw(site: str, path: str) -> bytes:
    """The status line the server answers a request for exactly `path`."""
    host, port = site.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        return s.recv(200).split(b"\r\n")[0]


def suppressed(project: Project) -> list[tuple[str, str]]:
    out = run_cli("suppressions", "--format", "json", config=project.config)
    return [(row["address"], row["reason"]) for row in json.loads(out.stdout)]


def test_one_click_unsubscribes_and_the_next_change_skips_only_that_reader(
    project: Project, smtpd: Server, site: str
) -> None:
    ben = link(smtpd, "ben@example.org")
    assert ben.startswith(f"{site}/unsubscribe/")
    message = smtpd.handler.to("ben@example.org")[-1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(message["List-Unsubscribe"]).endswith(", <mailto:unsubscribe@example.org>")
    # A scanner fetching the link changes nothing.
    page = httpx.get(ben)
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert 'lang="en"' in page.text and "<button" in page.text
    assert suppressed(project) == []
    # The mail client's one click: RFC 8058's exact body.
    done = httpx.post(ben, content=b"List-Unsubscribe=One-Click",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert httpx.post(ben, content=b"List-Unsubscribe=One-Click").status_code == 200  # again
    assert suppressed(project) == [("ben@example.org", "unsubscribed")]
    before = len(smtpd.handler.received)
    project.advisory("ve", VE.replace("Foreigners risk", "Visitors risk"))
    wait_for(lambda: len(smtpd.handler.received) == before + 2)  # Ana and the pager
    later = {r.rcpt_tos[0] for r in smtpd.handler.received[before:]}
    assert later == {"ana@example.org", "pager@example.org"}


def test_a_forged_or_hostile_request_changes_nothing(
    project: Project, smtpd: Server, site: str
) -> None:
    ana = link(smtpd, "ana@example.org")
    token = ana.rsplit("/", 1)[1]
    altered = ana[:-1] + ("A" if ana[-1] != "A" else "B")
    for url in (altered, ana[:-3], f"{site}/unsubscribe/{'x' * 22}"):
        assert httpx.post(url, content=b"List-Unsubscribe=One-Click").status_code == 404
        assert httpx.get(url).status_code == 404
    huge = httpx.post(ana, content=b"x" * 10_000_000)
    assert huge.status_code == 413
    # Paths as sent, never normalised into another: `..`, encoded or not, and NUL.
    assert raw(site, f"/unsubscribe/{token}/../../healthz").startswith(b"HTTP/1.1 404")
    assert raw(site, "/unsubscribe/%2e%2e/healthz").startswith(b"HTTP/1.1 404")
    assert raw(site, f"/unsubscribe/{token}%00").startswith(b"HTTP/1.1 404")
    assert raw(site, f"/unsubscribe/{token[:5]}\x00{token[6:]}")[9:12] == b"400"
    with httpx.Client() as client:
        assert client.request("DELETE", ana).status_code == 405
        assert client.request("PUT", ana).status_code == 405
    assert suppressed(project) == []


def test_health_says_the_last_check_and_what_is_queued(site: str) -> None:
    answer = httpx.get(f"{site}/healthz")
    assert answer.status_code == 200
    said = answer.json()
    assert said["status"] == "ok" and said["queued"] == 0 and said["failed"] == 0
    assert isinstance(said["last_check"], float)


def test_a_port_in_use_is_one_line_and_nothing_is_sent(project: Project, smtpd: Server) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with_http(project, smtpd, port)
        result = run_cli("serve", "--check-every", "60", config=project.config, env=SECRET)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{project.config}: http.listen: cannot listen on 127.0.0.1:")
    assert len(result.stderr.splitlines()) == 1
    assert smtpd.handler.received == []


@pytest.mark.parametrize(
    ("http", "expected"),
    [
        ('listen = "127.0.0.1:8080"', "http.public_url: required field is missing"),
        ('public_url = "http://alerts.example.org"',
         "http.public_url: expected an https:// URL (http only to a loopback host)"),
        ('public_url = "https://alerts.example.org"\nlisten = "8080"',
         'http.listen: expected HOST:PORT, e.g. "127.0.0.1:8080"'),
    ],
)  # fmt: skip
def test_a_bad_http_section_is_named(project: Project, http: str, expected: str) -> None:
    project.write_config(config_text() + f"\n[http]\n{http}\n")
    result = run_cli("check", config=project.config)
    assert result.returncode == 2
    assert f"{project.config}: {expected}" in result.stderr.splitlines()


@pytest.fixture
def example(tmp_path: Path) -> Iterator[tuple[Project, subprocess.Popen[str]]]:
    """The shipped example config on a free port, `serve` checking every half second."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "advisory.toml"
    port = free_port()
    config.write_text(
        config.read_text()
        .replace('digest = "0 8 * * MON"', "")  # (no reminder of what stands at start)
        .replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    )
    example = Project(tmp_path / "config")
    with serving(example, "--check-every", "0.5", env=SECRET | {"ADVISORY_NOW": ""}) as proc:
        wait_for(lambda: _up(port))
        yield example, proc
        code, err = stop(proc)
        assert code == 0, err


@contextmanager
def browser() -> Iterator[Page]:
    """Debian's Chromium (Playwright), a 320-pixel screen, JavaScript off."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        try:
            yield chromium.new_page(viewport={"width": 320, "height": 640},
                                    java_script_enabled=False)  # fmt: skip
        finally:
            chromium.close()


def mail_to(outbox: Path, user: str, subject: str) -> list[EmailMessage]:
    return [m for m in messages(outbox) if m["To"].addresses[0].username == user
            and subject in str(m["Subject"])]  # fmt: skip


def test_on_the_shipped_example_a_reader_unsubscribes_in_two_clicks_of_a_browser(
    example: tuple[Project, subprocess.Popen[str]],
) -> None:
    """A message in var/outbox, its link opened in the browser, the page's button
    clicked; the next change skips the reader; `suppressions` lists them."""
    project, _ = example
    outbox = project.root.parent / "var" / "outbox"
    wait_for(lambda: (outbox / "new").is_dir() and len(messages(outbox)) == 10)
    [ben] = mail_to(outbox, "ben", "Venezuela")
    url = str(ben["List-Unsubscribe"]).split(">")[0].lstrip("<")
    with browser() as page:
        page.goto(url)  # click one: the link in the message
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        assert suppressed(project) == []  # looking is not asking
        page.get_by_role("button", name="Unsubscribe").click()  # click two
        expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    ve = project.root / "advisories" / "ve.toml"
    ve.write_text(ve.read_text().replace("level = 4", "level = 3"))
    wait_for(lambda: len(mail_to(outbox, "ana", "Level 3")) == 1)  # level 3 and up
    time.sleep(1.2)  # two more checks: nothing else
    assert mail_to(outbox, "ben", "Level 3") == []
    listed = run_cli("suppressions", config=project.config).stdout
    assert "ben@example.org" in listed and "unsubscribed" in listed


def test_on_the_shipped_example_a_traveller_confirms_in_a_browser(
    example: tuple[Project, subprocess.Popen[str]],
) -> None:
    """The traveller's Venezuela alert, its button followed in the browser, the page's
    button pressed: `advisory acks` says so, and the desk will not be told of them."""
    project, _ = example
    outbox = project.root.parent / "var" / "outbox"
    wait_for(lambda: (outbox / "new").is_dir() and len(messages(outbox)) == 10)
    [sam] = mail_to(outbox, "sam", "Venezuela")
    html = sam.get_body(preferencelist=("html",))
    assert html is not None
    with browser() as page:
        page.set_content(str(html.get_content()))
        page.get_by_role("link", name="I have read this – I am safe").click()
        expect(page.get_by_role("heading", name="Please confirm you have read")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
        assert _acked(project) == {"sam@example.org": "", "dana@example.org": ""}  # a look
        page.get_by_role("button", name="I have read this – I am safe").click()
        expect(page.get_by_role("heading", name="Thank you: you have confirmed")).to_be_visible()
        expect(page.get_by_text("Venezuela · Level 4 – Do not travel")).to_be_visible()
    assert _acked(project) == {"sam@example.org": "web", "dana@example.org": ""}
    listed = run_cli("acks", "--pending", config=project.config).stdout
    assert "dana@example.org" in listed and "sam@example.org" not in listed


def _acked(project: Project) -> dict[str, str]:
    rows = json.loads(run_cli("acks", "--format", "json", config=project.config).stdout)
    return {row["email"]: row["how"] for row in rows}


def test_metrics_are_prometheus_text_a_parser_reads(
    project: Project, smtpd: Server, site: str
) -> None:
    httpx.post(link(smtpd, "ben@example.org"), content=b"List-Unsubscribe=One-Click")
    answer = httpx.get(f"{site}/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }
    assert samples[("advisory_messages", (("status", "sent"),))] == 4
    assert samples[("advisory_messages", (("status", "queued"),))] == 0
    assert samples[("advisory_deliveries_total", (("job", "check"),))] == 4
    assert samples[("advisory_suppressions", (("reason", "unsubscribed"),))] == 1
    assert samples[("advisory_check_duration_seconds_count", ())] >= 1
    assert ("advisory_delivery_failures_total", (("kind", "permanent"),)) in samples


def test_health_turns_unhealthy_after_three_missed_check_periods(project: Project) -> None:
    config = config_file.load(project.config)
    with open_store(config.service.state) as store:
        service = Service(config, Renderer(), store, lambda *_a, **_k: None)
        service.period = 60.0
        service.last_check = time.time() - 170
        assert service.health()[0] and service.health()[1]["status"] == "ok"
        service.last_check = time.time() - 190  # three periods and more: stale
        healthy, said = service.health()
        assert not healthy and said["status"] == "stale"
