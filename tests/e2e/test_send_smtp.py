"""`advisory send` as a subprocess against a real SMTP server: what each person receives."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from email.utils import parseaddr

from support.project import CO, PASSWORD, VE, Project, body, config_text, many, smtp_section
from support.smtp import Server

from advisory.inputs.config import Smtp
from advisory.mail.compose import Envelope
from advisory.mail.transports import SmtpTransport


def test_send_delivers_one_message_per_concerned_subscriber(
    smtp_project: Project, smtpd: Server
) -> None:
    result = smtp_project.run("send")
    assert result.returncode == 0, result.stderr
    assert "due 4, delivered 4, failed 0" in result.stdout

    received = smtpd.handler.received
    # Ana: VE (L4 >= 3); Ben: VE and CO (every country, min 1); pager: VE only;
    # Chloé: nothing (CO is L2).
    assert sorted(r.rcpt_tos[0] for r in received) == [
        "ana@example.org", "ben@example.org", "ben@example.org", "pager@example.org",
    ]  # fmt: skip
    assert smtpd.handler.to("chloe@example.org") == []
    for r in received:
        assert r.mail_from == "advisories@example.org"
        assert len(r.rcpt_tos) == 1


def test_html_message_has_headers_and_both_parts(smtp_project: Project, smtpd: Server) -> None:
    assert smtp_project.run("send").returncode == 0
    [msg] = smtpd.handler.to("ana@example.org")

    assert parseaddr(msg["From"]) == ("Travel Advisory Service", "advisories@example.org")
    assert msg["To"].addresses[0].display_name == "Ana Pérez"
    assert msg["To"].addresses[0].addr_spec == "ana@example.org"
    assert "Venezuela" in msg["Subject"] and "Level 4" in msg["Subject"]
    assert "Do not travel" in msg["Subject"]
    assert msg["Date"] is not None
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@example.org>")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe"] == "<mailto:unsubscribe@example.org>"

    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    html, text = body(msg, "html"), body(msg, "plain")
    for content in (html, text):
        assert "Do not travel" in content or "DO NOT TRAVEL" in content
        assert "Arbitrary or wrongful detention" in content
        assert "Foreigners have been arrested arbitrarily" in content
        assert "Travel to Venezuela has long been advised against." in content
    assert "<table" in html and "#b3121f" in html  # the level-4 banner
    assert "https://example.org/advisories/ve" in html
    assert all(len(line) < 78 for line in text.splitlines())


def test_text_and_alert_formats_are_single_plain_parts(
    smtp_project: Project, smtpd: Server
) -> None:
    assert smtp_project.run("send").returncode == 0
    ben = smtpd.handler.to("ben@example.org")
    assert {m.get_content_type() for m in ben} == {"text/plain"}
    assert {"Venezuela" in m["Subject"] for m in ben} == {True, False}  # VE and CO

    [alert] = smtpd.handler.to("pager@example.org")
    assert alert.get_content_type() == "text/plain"
    text = alert.get_content().strip()
    assert len(text) <= 160 and "\n" not in text
    assert text.startswith("VENEZUELA L4 DO NOT TRAVEL")
    assert "detention" in text


def test_rerun_sends_nothing_and_says_so(smtp_project: Project, smtpd: Server) -> None:
    assert smtp_project.run("send").returncode == 0
    again = smtp_project.run("send")
    assert again.returncode == 0
    assert "nothing due (4 already sent)" in again.stdout
    assert len(smtpd.handler.received) == 4


def test_message_ids_are_stable_and_unique(smtp_project: Project, smtpd: Server) -> None:
    assert smtp_project.run("send").returncode == 0
    first = [r.message["Message-ID"] for r in smtpd.handler.received]
    assert len(set(first)) == 4
    assert smtp_project.run("send", "--force").returncode == 0
    second = [r.message["Message-ID"] for r in smtpd.handler.received[4:]]
    assert sorted(second) == sorted(first)


def test_edited_advisory_is_sent_again_to_those_concerned(
    smtp_project: Project, smtpd: Server
) -> None:
    assert smtp_project.run("send").returncode == 0
    smtp_project.advisory("ve", VE.replace("Foreigners risk arbitrary arrest.", "Leave now."))
    result = smtp_project.run("send")
    assert result.returncode == 0, result.stderr
    assert "due 3, delivered 3" in result.stdout
    later = smtpd.handler.received[4:]
    assert sorted(r.rcpt_tos[0] for r in later) == [
        "ana@example.org", "ben@example.org", "pager@example.org",
    ]  # fmt: skip
    assert all(
        "Leave now." in body(r.message) for r in later if r.rcpt_tos[0] != "pager@example.org"
    )


def test_force_resends_and_country_limits(smtp_project: Project, smtpd: Server) -> None:
    assert smtp_project.run("send").returncode == 0
    result = smtp_project.run("send", "--force", "--country", "co")
    assert result.returncode == 0, result.stderr
    assert "due 1, delivered 1" in result.stdout
    assert [r.rcpt_tos for r in smtpd.handler.received[4:]] == [["ben@example.org"]]
    assert "Colombia" in smtpd.handler.received[4].message["Subject"]


def test_dry_run_delivers_and_records_nothing(smtp_project: Project, smtpd: Server) -> None:
    result = smtp_project.run("send", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would send 4 messages" in result.stdout
    assert "pager@example.org" in result.stdout
    assert smtpd.handler.received == []
    assert not smtp_project.state.exists()
    assert smtp_project.run("send").returncode == 0
    assert len(smtpd.handler.received) == 4


def test_unknown_country_is_invalid_input(smtp_project: Project, smtpd: Server) -> None:
    result = smtp_project.run("send", "--country", "FR")
    assert result.returncode == 2
    assert result.stderr.strip() == "--country: no advisory for FR"
    assert smtpd.handler.received == []


def test_starttls_with_verified_certificate_and_login(project: Project, smtpd_tls: Server) -> None:
    project.write_config(
        config_text(
            delivery='transport = "smtp"',
            smtp=smtp_section(smtpd_tls, username='"relay-user"', password_env='"RELAY_PW"'),
        )
    )
    result = project.run("send", env={"RELAY_PW": PASSWORD})
    assert result.returncode == 0, result.stderr
    assert len(smtpd_tls.handler.received) == 4
    for command in ("check", "status", "send"):
        out = project.run(command, env={"RELAY_PW": PASSWORD})
        assert out.returncode == 0 and PASSWORD not in out.stdout + out.stderr
    assert PASSWORD not in result.stdout + result.stderr
    for path in project.root.glob("state.sqlite3*"):  # the state file, its WAL and lock
        assert PASSWORD.encode() not in path.read_bytes()


def test_wrong_password_leaves_messages_queued(project: Project, smtpd_tls: Server) -> None:
    project.write_config(
        config_text(
            delivery='transport = "smtp"',
            smtp=smtp_section(smtpd_tls, username='"relay-user"'),
        )
    )
    result = project.run("send", env={"ADVISORY_SMTP_PASSWORD": "wrong-guess-123"})
    assert result.returncode == 1
    assert "refused the login: 535" in result.stderr
    assert "wrong-guess-123" not in result.stdout + result.stderr
    assert smtpd_tls.handler.received == []
    status = project.run("status")
    assert "queued 4" in status.stdout


def test_starttls_is_required_never_opportunistic(project: Project, smtpd: Server) -> None:
    """A server without STARTTLS gets nothing in clear text: the messages stay queued."""
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd, security='"starttls"'))
    )
    result = project.run("send")
    assert result.returncode == 1
    assert "STARTTLS" in result.stderr
    assert smtpd.handler.received == []


def test_untrusted_certificate_is_refused(project: Project, smtpd_tls: Server) -> None:
    """Without the test CA the server's certificate does not verify: nothing is sent."""
    smtp = smtp_section(smtpd_tls).replace(f'ca_file = "{smtpd_tls.ca_file}"', "")
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp))
    result = project.run("send")
    assert result.returncode == 1
    assert "certificate" in result.stderr.lower()
    assert smtpd_tls.handler.received == []


def test_permanent_refusal_fails_one_recipient_only(smtp_project: Project, smtpd: Server) -> None:
    smtpd.handler.refuse["pager@example.org"] = "554 5.7.1 Refused by policy"
    result = smtp_project.run("send")
    assert result.returncode == 1
    assert "due 4, delivered 3, failed 1 (0 queued for retry, 1 failed for good)" in result.stdout
    assert "pager@example.org: delivery failed: 554" in result.stderr
    with sqlite3.connect(smtp_project.state) as db:
        rows = dict(db.execute("SELECT recipient, status FROM messages WHERE format = 'alert'"))
    assert rows == {"pager@example.org": "failed"}
    # A permanent failure is not retried by the next run.
    smtpd.handler.refuse.clear()
    again = smtp_project.run("send")
    assert again.returncode == 0
    assert "failed earlier" in again.stdout
    assert smtpd.handler.to("pager@example.org") == []


def test_temporary_refusal_is_queued_for_retry(smtp_project: Project, smtpd: Server) -> None:
    smtpd.handler.refuse["ana@example.org"] = "451 4.3.0 Try again later"
    result = smtp_project.run("send")
    assert result.returncode == 1
    assert "1 queued for retry" in result.stdout
    status = smtp_project.run("status")
    assert "queued 1" in status.stdout
    assert "451" in status.stdout and "next attempt" in status.stdout


def test_retry_delivers_due_retries_only(smtp_project: Project, smtpd: Server) -> None:
    smtpd.handler.refuse["ana@example.org"] = "451 4.3.0 Try again later"
    assert smtp_project.run("send").returncode == 1
    smtpd.handler.refuse.clear()
    not_yet = smtp_project.run("retry")
    assert (not_yet.returncode, not_yet.stdout) == (
        0,
        "nothing due (3 already sent, 1 waiting for a retry)\n",
    )
    with sqlite3.connect(smtp_project.state) as db:  # the retry time has come
        db.execute("UPDATE messages SET next_attempt = 0 WHERE status = 'queued'")
    smtp_project.advisory("co", CO.replace("level = 2", "level = 3"))  # new, but not a retry
    result = smtp_project.run("retry")
    assert result.returncode == 0, result.stderr
    assert "due 1, delivered 1" in result.stdout
    assert [r.rcpt_tos for r in smtpd.handler.received[3:]] == [["ana@example.org"]]


def test_connections_are_reused_and_bounded(project: Project, smtpd: Server) -> None:
    many(project, 12, smtp_section(smtpd, connections="2"))
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    per_connection = Counter(r.peer for r in smtpd.handler.received)
    assert sum(per_connection.values()) == 12
    assert len(per_connection) == 2
    assert min(per_connection.values()) > 1


def test_long_runs_show_progress(project: Project, smtpd: Server) -> None:
    smtpd.handler.delay = 0.25
    many(project, 12, smtp_section(smtpd, connections="1"))
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    progress = [line for line in result.stderr.splitlines() if line.startswith("…")]
    # The total from the first line on (the list is planned by then), and the time left.
    assert progress, result.stderr
    assert re.fullmatch(r"… \d+ of 12 messages attempted, \d+ delivered; about \d+ s left",
                        progress[0])  # fmt: skip
    assert "due 12, delivered 12, failed 0" in result.stdout


def test_a_retry_reuses_the_message_id(smtp_project: Project, smtpd: Server) -> None:
    smtpd.handler.refuse_data["ana@example.org"] = "451 4.3.0 Queue full"
    assert smtp_project.run("send").returncode == 1
    [refused] = smtpd.handler.refused
    smtpd.handler.refuse_data.clear()
    with sqlite3.connect(smtp_project.state) as db:
        db.execute("UPDATE messages SET next_attempt = 0 WHERE status = 'queued'")
    assert smtp_project.run("retry").returncode == 0
    [delivered] = smtpd.handler.to("ana@example.org")
    assert delivered["Message-ID"] == refused.message["Message-ID"]
    assert delivered["Date"] == refused.message["Date"]


def test_a_refused_sender_keeps_everything_queued(smtp_project: Project, smtpd: Server) -> None:
    smtpd.handler.refuse_sender = "553 5.7.1 Sender not allowed"
    result = smtp_project.run("send")
    assert result.returncode == 1
    assert "4 queued for retry, 0 failed for good" in result.stdout


def test_a_server_refusing_the_connection_with_5xx_fails_nothing_for_good(
    project: Project,
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def refuse_all() -> None:
        with listener:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(b"554 5.7.1 Client host blocked\r\n")

    threading.Thread(target=refuse_all, daemon=True).start()
    smtp = f'host = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5'
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp))
    result = project.run("send")
    listener.close()
    assert result.returncode == 1
    assert "4 queued for retry, 0 failed for good" in result.stdout
    assert "554" in result.stderr


def test_concurrent_runs_send_each_message_once(smtp_project: Project, smtpd: Server) -> None:
    """A cron run and a manual run at the same moment: the second waits for the first."""
    smtp = smtp_section(smtpd, connections="1")
    smtp_project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp))
    smtpd.handler.delay = 0.5
    first = subprocess.Popen(
        [sys.executable, "-m", "advisory", "send", "--config", str(smtp_project.config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not smtpd.handler.received and first.poll() is None:
        time.sleep(0.05)
    second = smtp_project.run("send")
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 0 and second.returncode == 0
    assert "due 4, delivered 4" in out
    assert "waiting for another run" in second.stderr
    assert "nothing due (4 already sent)" in second.stdout
    assert len(smtpd.handler.received) == 4


def test_a_new_sender_address_does_not_make_anything_due(
    smtp_project: Project, smtpd: Server
) -> None:
    assert smtp_project.run("send").returncode == 0
    smtp_project.write_config(
        smtp_project.config.read_text().replace("advisories@example.org", "desk@travel.example.com")
    )
    again = smtp_project.run("send")
    assert "nothing due (4 already sent)" in again.stdout
    assert len(smtpd.handler.received) == 4


def test_rate_limit_spaces_messages_evenly(project: Project, smtpd: Server) -> None:
    many(project, 12, smtp_section(smtpd, connections="4"))
    project.write_config(project.config.read_text().replace(
        'transport = "smtp"', 'transport = "smtp"\nrate_limit = 20'))  # fmt: skip
    result = project.run("send")
    assert result.returncode == 0, result.stderr
    times = sorted(r.at for r in smtpd.handler.received)
    assert len(times) == 12
    assert times[-1] - times[0] >= 11 / 20 * 0.9  # 20 a second, not all at once
    # Smoothed, not bursts: never more than 3 in any tenth of a second (2 at the rate).
    assert max(sum(1 for t in times if s <= t < s + 0.1) for s in times) <= 3


def expected_token(secret: str, address: str) -> str:
    """The token as README documents it, computed here independently of the service."""
    digest = hmac.new(secret.encode(), address.lower().encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_each_reader_gets_their_own_unsubscribe_token(project: Project, smtpd: Server) -> None:
    secret = "token-key-" + "k" * 30
    project.write_config(
        config_text(
            delivery='transport = "smtp"',
            smtp=smtp_section(smtpd),
            sender_extra='unsubscribe = "https://example.org/unsubscribe?t={token}"',
        )
    )
    missing = project.run("send")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"{project.config}: sender.token_secret_env: "
        "environment variable ADVISORY_TOKEN_SECRET is not set"
    )
    assert smtpd.handler.received == []

    result = project.run("send", env={"ADVISORY_TOKEN_SECRET": secret})
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    tokens = set()
    for r in smtpd.handler.received:
        msg = r.message
        address = r.rcpt_tos[0]
        link = f"https://example.org/unsubscribe?t={expected_token(secret, address)}"
        assert msg["List-Unsubscribe"] == f"<{link}>"
        if address != "pager@example.org":  # the short alert has no footer
            assert f"To unsubscribe: {link}" in body(msg)
        if msg.get_body(preferencelist=("html",)) is not None:
            assert f'href="{link}"' in body(msg, "html")
        tokens.add(msg["List-Unsubscribe"])
    assert len(tokens) == 3  # Ana, Ben (two messages, one token) and pager


def test_lines_that_start_with_a_dot_arrive_whole(smtp_project: Project, smtpd: Server) -> None:
    # A lone "." ends an SMTP message: unless each such line is dot-stuffed, the
    # server would cut the message short there.
    details = "Before.\n\n.\n\n.. two dots\n\nAfter the dots."
    smtp_project.advisory("ve", VE.replace("Foreigners risk arbitrary arrest.", details))
    assert smtp_project.run("send").returncode == 0
    [msg] = smtpd.handler.to("ana@example.org")
    text = body(msg)
    assert "\n.\n" in text.replace("\r\n", "\n") and "\n.. two dots\n" in text.replace("\r\n", "\n")
    assert "After the dots." in text and "After the dots." in body(msg, "html")


def test_a_message_with_bare_line_feeds_is_normalised_and_stuffed(smtpd: Server) -> None:
    # Composed messages are CRLF throughout; anything else takes aiosmtplib's own path.
    smtp = Smtp(host=smtpd.host, port=smtpd.port, security="none", timeout=10)
    data = b"Subject: bare\nMessage-ID: <k@example.org>\n\nfirst\n.\nlast\n"
    envelope = Envelope("<k@example.org>", "advisories@example.org", "ana@example.org", data, "k")

    async def send() -> None:
        transport = SmtpTransport(smtp)
        await transport.send(envelope)
        await transport.close()

    asyncio.run(send())
    [msg] = smtpd.handler.to("ana@example.org")
    assert msg["Subject"] == "bare"
    assert body(msg).replace("\r\n", "\n") == "first\n.\nlast\n"


def test_a_very_long_name_is_folded_and_delivered(smtp_project: Project, smtpd: Server) -> None:
    """aiosmtpd, like Postfix, refuses a line over 1,000 characters ("500 Line too long")."""
    smtp_project.write_config(
        smtp_project.config.read_text().replace('name = "Ana Pérez"', f'name = "{"李" * 300}"')
    )
    result = smtp_project.run("send")
    assert result.returncode == 0, result.stderr
    [ana] = smtpd.handler.to("ana@example.org")
    # (Python's parser puts a space where two encoded words meet; RFC 2047 readers do not.)
    assert ana["To"].addresses[0].display_name.replace(" ", "") == "李" * 300


def test_a_run_that_waited_plans_from_the_list_as_it_is_then(
    project: Project, smtpd: Server
) -> None:
    smtpd.handler.delay = 0.3
    many(project, 4, smtp_section(smtpd, connections="1"))
    argv = [sys.executable, "-m", "advisory", "send", "--config", str(project.config)]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not smtpd.handler.received and first.poll() is None:
        time.sleep(0.02)
    second = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert second.stderr is not None
    assert "waiting for another run" in second.stderr.readline()  # it has read the list
    with (project.root / "people.csv").open("a") as f:
        f.write("Late Comer,late@example.org,VE,1,text\n")
    first.communicate(timeout=60)
    out, _ = second.communicate(timeout=60)
    assert (first.returncode, second.returncode) == (0, 0)
    assert "due 1, delivered 1" in out
    assert len(smtpd.handler.to("late@example.org")) == 1


def test_a_region_at_level_4_reaches_readers_who_asked_for_more_than_the_country(
    smtp_project: Project, smtpd: Server
) -> None:
    smtp_project.advisory("co", CO + REGION)
    result = smtp_project.run("send")
    assert result.returncode == 0, result.stderr
    got = {r.rcpt_tos[0] for r in smtpd.handler.received
           if r.message["Subject"].startswith("Colombia")}  # fmt: skip
    # Ana and Chloé want level 3 and above: the country is 2, its border districts 4.
    assert got == {"ana@example.org", "ben@example.org", "chloe@example.org"}
    [chloe] = smtpd.handler.to("chloe@example.org")
    assert chloe["Subject"] == (
        "Colombia travel advisory: Level 2 – Exercise increased caution, Level 4 in parts"
    )
    assert "Eastern border districts</strong>: Level 4 – Do not travel." in body(chloe, "html")
    [ben] = [m for m in smtpd.handler.to("ben@example.org") if "Colombia" in m["Subject"]]
    assert "  - Eastern border districts: Level 4 – Do not travel. Armed groups" in body(ben)
    # Nothing new since: a rerun sends nothing.
    assert smtp_project.run("send").stdout.startswith("nothing due")


def test_two_regions_of_one_name_are_one_line_and_nothing_is_sent(
    smtp_project: Project, smtpd: Server
) -> None:
    path = smtp_project.advisory("co", CO + REGION + REGION.replace("level = 4", "level = 3"))
    result = smtp_project.run("send")
    assert result.returncode == 2
    assert result.stderr == f"{path}: regions: two regions named Eastern border districts\n"
    assert smtpd.handler.received == []


REGION = """
[[regions]]
name = "Eastern border districts"
level = 4
summary = "Armed groups operate there and have attacked visitors."
"""
