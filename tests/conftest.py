"""Fixtures of real parts: an aiosmtpd server on 127.0.0.1 (plain, or STARTTLS with trustme
certificates) and a project folder with config and advisory files; the parts are in `support`."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword
from support.postgres import PrivateServer, fresh_database
from support.project import CO, PASSWORD, VE, Project, config_text, smtp_section
from support.smtp import Recorder, Server, start

from advisory.domain.urls import Database


@pytest.fixture(scope="session", autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The lists kept for a state on PostgreSQL go to a cache of the tests' own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture
def smtpd() -> Iterator[Server]:
    """A plain SMTP server (security = "none")."""
    handler = Recorder()
    controller = start(handler)
    yield Server("127.0.0.1", controller.port, handler)
    controller.stop()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtpd_tls(ca: trustme.CA, tmp_path: Path) -> Iterator[Server]:
    """STARTTLS required, a certificate for 127.0.0.1 from a test CA, and LOGIN with PASSWORD."""
    handler = Recorder()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    controller = start(
        handler,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    yield Server("127.0.0.1", controller.port, handler, ca_file)
    controller.stop()


@pytest.fixture
def postgresql() -> Iterator[Database]:
    """A new, empty PostgreSQL database on the test server."""
    with fresh_database() as database:
        yield database


@pytest.fixture(scope="session")
def private_postgresql() -> Iterator[PrivateServer]:
    """A PostgreSQL server of the tests' own, which a test may stop and start."""
    server = PrivateServer()
    yield server
    server.close()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path / "project")
    p.root.mkdir()
    p.advisory("ve", VE)
    p.advisory("co", CO)
    p.write_config(config_text())
    return p


@pytest.fixture
def smtp_project(project: Project, smtpd: Server) -> Project:
    project.write_config(config_text(delivery='transport = "smtp"', smtp=smtp_section(smtpd)))
    return project
