"""Invalid input: one line per problem naming the file and field, exit 2, nothing sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.project import CO, SUBSCRIBERS, Project, config_text, run_cli

from advisory.cli import main

BAD_CONFIGS = [
    # (what to change in the good config, the line expected on stderr)
    (('email = "ana@example.org"', 'email = "ana@@example.org"'),
     "subscribers[0].email: not a valid email address"),
    (('email = "ben@example.org"', 'email = "ben@mail.test"'),
     "subscribers[1].email: not a valid email address"),
    (('email = "ben@example.org"', 'email = "ANA@Example.org"'),
     "subscribers[1].email: same address as subscribers[0]"),
    (('countries = ["VE"]', 'countries = ["VE", "XX"]'),
     "subscribers[2].countries[1]: not an ISO 3166-1 alpha-2 country code"),
    (('countries = ["VE"]', "countries = []"),
     "subscribers[2].countries: empty, and no trips: list a country or a trip"),
    (("min_level = 3", "min_level = 5"), "subscribers[0].min_level: expected 1, 2, 3 or 4"),
    (("min_level = 3", 'min_level = "3"'),
     "subscribers[0].min_level: expected a level from 1 to 4"),
    (('format = "alert"', 'format = "sms"'),
     "subscribers[2].format: expected 'html', 'text' or 'alert'"),
    (('name = "Duty pager"', 'name = "Duty pager"\nphone = "+1 555"'),
     "subscribers[2].phone: unknown field"),
    (('timezone = "UTC"', 'timezone = "Mars/Olympus"'),
     "service.timezone: not a known time zone (e.g. UTC, Europe/Madrid)"),
    (('timezone = "UTC"', 'timezone = "America"'),
     "service.timezone: not a known time zone (e.g. UTC, Europe/Madrid)"),
    (('timezone = "UTC"', 'timezone = "UTC"\nstate_dir = "x"'), "service.state_dir: unknown field"),
    (('timezone = "UTC"', 'timezone = "UTC"\n\n[schedule]\ncheck = "every 15 minutes"'),
     'schedule.check: not a valid cron expression (five fields, e.g. "*/15 * * * *")'),
    (('timezone = "UTC"', 'timezone = "UTC"\n\n[schedule]\ndigest = "0 8 * * FUNDAY"'),
     'schedule.digest: not a valid cron expression (five fields, e.g. "*/15 * * * *"): '
     "day of week: 'FUNDAY' is not a day (0-7, or SUN to SAT)"),
    (('timezone = "UTC"', 'timezone = "UTC"\n\n[schedule]\ncheck = "61 * * * *"'),
     'schedule.check: not a valid cron expression (five fields, e.g. "*/15 * * * *"): '
     "minute: 61 is higher than the maximum 59"),
    (('transport = "maildir"', 'transport = "pigeon"'),
     "delivery.transport: expected 'maildir' or 'smtp'"),
    (('transport = "maildir"', 'transport = "maildir"\ngive_up_after = "soon"'),
     'delivery.give_up_after: expected a duration such as "90m", "24h" or "2d"'),
    (('transport = "maildir"', "transport = \"maildir\"\nrate_limit = -1"),
     "delivery.rate_limit: expected greater than or equal to 0"),
    (('name = "Travel Advisory Service"', ""), "sender.name: required field is missing"),
    (('unsubscribe = "mailto:unsubscribe@example.org"', 'unsubscribe = "javascript:alert(1)"'),
     "sender.unsubscribe: expected a mailto: or https: address"),
]  # fmt: skip

BAD_SOURCES = [
    ('kind = "rss"', "sources[0].kind: expected 'files', 'us-state', 'gov-uk' or 'canada'"),
    ('kind = "us-state"\n[[sources]]\nkind = "us-state"',
     "sources[1].kind: us-state is listed twice"),
    ('kind = "gov-uk"',
     'sources[0].countries: list the countries; "*" is only for us-state and files'),
    ('kind = "canada"\ncountries = ["XX"]',
     "sources[0].countries[0]: not an ISO 3166-1 alpha-2 country code"),
    ('kind = "us-state"\nurl = "http://feeds.example.org/ta.xml"',
     "sources[0].url: expected an https:// URL (http only to a loopback host)"),
    ('kind = "files"\nurl = "https://example.org/"',
     "sources[0].url: files are read from service.advisories"),
    ('kind = "us-state"\ntimeout = 0', "sources[0].timeout: expected greater than 0"),
    ('kind = "us-state"\nurl = "https://travel.state.gov:443x/feed"',
     "sources[0].url: expected an https:// URL"),
    ('kind = "us-state"\nurl = "http://[::1]:99999/feed"',
     "sources[0].url: expected an https:// URL"),
]  # fmt: skip

BAD_SMTP = [
    ('port = "25"', "smtp.port: expected a whole number"),
    ("port = 70000", "smtp.port: expected less than or equal to 65535"),
    ('verify = "yes"', "smtp.verify: expected true or false"),
    ('security = "maybe"', "smtp.security: expected 'starttls', 'tls' or 'none'"),
    ("connections = 0", "smtp.connections: expected greater than or equal to 1"),
    ('ca_file = "missing.pem"', "smtp.ca_file: file not found"),
    ('ca_file = "advisory.toml"', "smtp.ca_file: not a PEM file of CA certificates"),
    ('username = "u"\npassword_env = "NOT_SET_ANYWHERE"',
     "smtp.password_env: environment variable NOT_SET_ANYWHERE is not set"),
    ('host = "mail.example.org"\nsecurity = "none"\nusername = "u"\npassword_env = "HOME"',
     'smtp.username: login without TLS (security = "none") only to a loopback host'),
]  # fmt: skip


@pytest.mark.parametrize(("source", "expected"), BAD_SOURCES)
def test_invalid_sources(
    project: Project, capsys: pytest.CaptureFixture[str], source: str, expected: str
) -> None:
    project.write_config(f"{config_text()}\n[[sources]]\n{source}\n")
    code, lines = check(project, capsys)
    assert code == 2
    assert lines == [f"{project.config}: {expected}"]


def check(project: Project, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(project.config)])
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(("change", "expected"), BAD_CONFIGS)
def test_invalid_config_names_file_and_field(
    project: Project, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    good = config_text()
    assert change[0] in good
    project.write_config(good.replace(change[0], change[1], 1))
    code, lines = check(project, capsys)
    assert code == 2
    assert f"{project.config}: {expected}" in lines


@pytest.mark.parametrize(("smtp", "expected"), BAD_SMTP)
def test_invalid_smtp_section(
    project: Project, capsys: pytest.CaptureFixture[str], smtp: str, expected: str
) -> None:
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp))
    code, lines = check(project, capsys)
    assert code == 2
    assert lines == [f"{project.config}: {expected}"]


def test_every_problem_at_once_without_traceback_or_values(project: Project) -> None:
    secret = "hunter2-Secret-Value"
    project.write_config(
        config_text(delivery='transport = "smtp"', smtp=f'port = "{secret}"\nverify = "{secret}"')
        .replace('email = "ana@example.org"', f'email = "{secret}"')
    )  # fmt: skip
    result = run_cli("send", config=project.config)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{project.config}: smtp.port: expected a whole number",
        f"{project.config}: smtp.verify: expected true or false",
        f"{project.config}: subscribers[0].email: not a valid email address",
    ]
    assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not project.state.exists() and not project.outbox.exists()


def test_toml_syntax_error_names_line_and_column(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.write_config(config_text().replace('timezone = "UTC"', "timezone = UTC"))
    code, lines = check(project, capsys)
    assert code == 2
    assert lines == [f"{project.config}: line 4, column 12: TOML syntax: invalid value"]


def test_invalid_utf8_and_missing_file(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.config.write_bytes(config_text().encode().replace(b"Ana P\xc3\xa9rez", b"Ana P\xe9rez"))
    line = config_text().splitlines().index('name = "Ana Pérez"') + 1
    code, lines = check(project, capsys)
    assert (code, lines) == (2, [f"{project.config}: line {line}: not valid UTF-8"])
    missing = project.root / "nope.toml"
    assert main(["check", "--config", str(missing)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{missing}: no config file here; point at one with --config FILE or "
        "$ADVISORY_CONFIG, or write a starter with `advisory init DIR`"
    ]


def test_invalid_advisory_file_names_its_field(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project.advisory(
        "xx",
        'country = "FR"\nlevel = 7\nrisks = ["aliens"]\ntitle = "T"\nsummary = "S"\n'
        'issued = "yesterday"\nsource = "S"\nsource_url = "http://insecure.example.org"\n',
    )
    code, lines = check(project, capsys)
    assert code == 2
    assert lines == [
        f"{path}: level: expected 1, 2, 3 or 4",
        f"{path}: risks[0]: expected 'crime', 'terrorism', 'unrest', 'health', 'disaster', "
        "'event', 'kidnapping', 'detention' or 'other'",
        f"{path}: issued: expected a TOML date or date-time, e.g. 2026-11-24",
        f"{path}: source_url: must be an https:// URL",
    ]


def test_two_files_for_one_country(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    ve = (project.root / "advisories" / "ve.toml").read_text()
    copy = project.advisory("venezuela", ve)
    code, lines = check(project, capsys)
    assert code == 2
    assert lines == [f"{copy}: country: VE is already in {project.root / 'advisories' / 've.toml'}"]


def test_relative_paths_follow_the_config_file(project: Project, tmp_path: Path) -> None:
    """Run from an unrelated directory, via $ADVISORY_CONFIG: state and outbox land beside it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("send", env={"ADVISORY_CONFIG": str(project.config)}, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert project.state.exists()
    assert len(list((project.outbox / "new").iterdir())) == 4
    assert list(elsewhere.iterdir()) == []


def test_minimal_config_takes_documented_defaults(project: Project) -> None:
    project.write_config(
        '[sender]\naddress = "advisories@example.org"\nname = "Desk"\n\n' + SUBSCRIBERS
    )
    result = run_cli("send", config=project.config)
    assert result.returncode == 0, result.stderr
    assert project.state.exists() and (project.outbox / "new").is_dir()


def test_a_bad_config_hides_no_other_problem_and_speaks_plainly(project: Project) -> None:
    path = project.advisory("co", CO.replace("level = 2", "level = 9"))
    (project.root / "people.csv").write_text("name,email,countries\nEve,eve@,VE\n")
    project.write_config(
        config_text(
            delivery='transport = "smtp"',
            smtp='host = "mail server!"\npassword_env = "1-BAD"',
            subscribers="",
        )
        .replace('timezone = "UTC"', 'timezone = "UTC"\nsubscribers_file = "people.csv"')
        .replace('[delivery]', '[[subscribers]]\nname = "A"\nemail = "a@example.org"\n'
                 'countries = ["VENEZUELA"]\n\n[delivery]')
    )  # fmt: skip
    result = run_cli("check", config=project.config)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{project.config}: smtp.host: expected a host name or an IP address",
        f"{project.config}: smtp.password_env: expected the name of an environment variable "
        "(letters, digits and _)",
        f"{project.config}: subscribers[0].countries[0]: expected at most 8 characters",
        f"{path}: level: expected 1, 2, 3 or 4",
        f"{project.root / 'people.csv'}:2: email: not a valid email address",
    ]
    assert "should" not in result.stderr and "pattern" not in result.stderr
