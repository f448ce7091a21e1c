"""Hostile names and advisory text, end to end through a real SMTP server."""

from __future__ import annotations

from conftest import SUBSCRIBERS, VE, Project, Server
from test_send_smtp import body


def test_line_breaks_markup_and_template_syntax_arrive_harmless(
    smtp_project: Project, smtpd: Server
) -> None:
    smtp_project.advisory(
        "ve",
        VE.replace(
            'title = "Venezuela: do not travel"',
            'title = "Venezuela\\r\\nBcc: victim@example.org"',
        ).replace(
            "Foreigners risk arbitrary arrest.",
            "<script>alert('x')</script> {{ 7*7 }} {% for x in range(3) %}x{% endfor %}",
        ),
    )
    smtp_project.write_config(
        smtp_project.config.read_text().replace(
            'name = "Ana Pérez"', 'name = "Ana Pérez\\r\\nBcc: victim@example.org"'
        )
    )
    result = smtp_project.run("send")
    assert result.returncode == 0, result.stderr

    received = smtpd.handler.received
    assert all(r.rcpt_tos != ["victim@example.org"] for r in received)
    [ana] = smtpd.handler.to("ana@example.org")
    assert ana["Bcc"] is None
    assert ana["To"].addresses[0].display_name == "Ana Pérez Bcc: victim@example.org"
    html, text = body(ana, "html"), body(ana, "plain")
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "{% for x in range(3) %}x{% endfor %}" in html
    assert "49" not in html and "xxx" not in html
    assert "{{ 7*7 }}" in text and "<script>alert('x')</script>" in text
    assert "Venezuela Bcc: victim@example.org" in html  # the title, on one line


def test_sender_name_with_line_break_is_one_header(smtp_project: Project, smtpd: Server) -> None:
    smtp_project.write_config(
        smtp_project.config.read_text().replace(
            'name = "Travel Advisory Service"', 'name = "Desk\\nX-Injected: yes"'
        )
    )
    assert SUBSCRIBERS in smtp_project.config.read_text()
    assert smtp_project.run("send").returncode == 0
    for r in smtpd.handler.received:
        assert r.message["X-Injected"] is None
        assert r.message["From"].addresses[0].display_name == "Desk X-Injected: yes"
