"""DKIM: every message signed, on the spliced path and the full one, in every format,
with RSA and Ed25519 keys, and each signature verified by dkimpy (the reference
implementation) against the DNS record `check` prints."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from support.mail import both
from support.models import ONE_CLICK, RENDERER, advisory, reader
from support.project import ROOT, Project, config_text, messages, run_cli, smtp_section
from support.smtp import Server

from advisory.domain.models import Format
from advisory.mail.dkim import Signer

KEYS = {
    "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate(),
}


def published(signer: Signer) -> bytes:
    """The TXT record's text, as a resolver gives it (its strings joined)."""
    return "".join(re.findall(r'"([^"]*)"', signer.record)).encode()


def verified(data: bytes, signer: Signer) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{signer.selector}._domainkey.{signer.domain}.".encode()
        return published(signer)

    return bool(dkim.verify(data, dnsfunc=dns))


@pytest.mark.parametrize("kind", list(KEYS))
@pytest.mark.parametrize("fmt", list(Format))
def test_every_message_verifies_on_both_paths(kind: str, fmt: Format) -> None:
    signer = Signer("example.org", "advisory2026", KEYS[kind])
    sub = reader(fmt, name="Zoë  Ñúñez", countries=["VE", "CO"])
    fast, slow = both(sub, lambda s: RENDERER.render(advisory(), s, ONE_CLICK), head=ONE_CLICK)
    for envelope in (fast, slow):
        signed = signer.sign(envelope.data, 1_796_000_000)
        assert signed.startswith(b"DKIM-Signature: v=1; a=" + signer.algorithm.encode())
        assert verified(signed, signer)
        tampered = signed.replace(b"Venezuela", b"Venezuelb", 1)
        assert not verified(tampered, signer)


def test_the_record_holds_the_public_key_in_dns_strings() -> None:
    signer = Signer("example.org", "advisory2026", KEYS["rsa"])
    name, _, strings = signer.record.partition(" TXT ")
    assert name == "advisory2026._domainkey.example.org"
    assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', strings))
    assert published(signer).startswith(b"v=DKIM1; k=rsa; p=MIIBIjAN")


def test_a_send_signs_each_message_and_check_prints_the_record(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    key = tmp_path / "config" / "dkim.pem"
    key.write_bytes(KEYS["ed25519"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    config = tmp_path / "config" / "advisory.toml"
    config.write_text(config.read_text() + '\n[dkim]\ndomain = "example.org"\n'
                      'selector = "advisory2026"\nkey_file = "dkim.pem"\n')  # fmt: skip
    checked = run_cli("check", config=config)
    assert checked.returncode == 0, checked.stderr
    signer = Signer.load("example.org", "advisory2026", key, config)
    assert f"  {signer.record}" in checked.stdout.splitlines()
    env = {"ADVISORY_NOW": "2026-12-01", "ADVISORY_TOKEN_SECRET": "a-secret-of-twenty-chars"}
    assert run_cli("send", config=config, env=env).returncode == 0
    box = tmp_path / "var" / "outbox" / "new"
    raw = [p.read_bytes() for p in box.iterdir()]
    assert len(raw) == len(messages(tmp_path / "var" / "outbox")) == 10  # the desk's too
    assert all(verified(data, signer) for data in raw)


def test_what_an_smtp_server_receives_verifies(
    project: Project, smtpd: Server, tmp_path: Path
) -> None:
    """The fast path's DATA is made once beside the message: the signature covers it."""
    key = tmp_path / "dkim.pem"
    key.write_bytes(KEYS["rsa"].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    dkim_section = f'[dkim]\ndomain = "example.org"\nselector = "s1"\nkey_file = "{key}"\n\n'
    project.write_config(dkim_section + config_text(delivery='transport = "smtp"',
                                                    smtp=smtp_section(smtpd)))  # fmt: skip
    assert project.run("send").returncode == 0
    signer = Signer.load("example.org", "s1", key, project.config)
    received = smtpd.handler.received
    assert len(received) == 4 and all(verified(r.raw, signer) for r in received)


@pytest.mark.parametrize(
    ("dkim", "expected"),
    [
        ('domain = "example.net"\nselector = "s"\nkey_file = "advisory.toml"',
         "dkim.domain: must be example.org or a domain it is under"),
        ('domain = "example.org"\nselector = "s"\nkey_file = "advisory.toml"',
         "dkim.key_file: not a PEM private key without a password"),
        ('domain = "example.org"\nselector = "a b"\nkey_file = "advisory.toml"',
         "dkim.selector: expected a DNS label, e.g. advisory2026"),
    ],
)  # fmt: skip
def test_a_bad_dkim_section_is_named(tmp_path: Path, dkim: str, expected: str) -> None:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "advisory.toml"
    config.write_text(config.read_text() + f"\n[dkim]\n{dkim}\n")
    result = run_cli("check", config=config)
    assert result.returncode == 2
    assert f"{config}: {expected}" in result.stderr.splitlines()
