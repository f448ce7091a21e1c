"""The manual keeps up with the code: every command, option and config key is in docs/,
every module is in the README's layout, and every page is linked from the README."""

from __future__ import annotations

import argparse
import re
import types
import typing
from collections.abc import Iterator

import pytest
from pydantic import BaseModel
from support.project import ROOT

from advisory.cli import parser
from advisory.inputs.config import Config

DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()


def commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(`advisory send`, its parser) for every command and subcommand."""

    def walk(
        prefix: str, p: argparse.ArgumentParser
    ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield f"{prefix} {name}", child
                    yield from walk(f"{prefix} {name}", child)

    yield "advisory", parser()
    yield from walk("advisory", parser())


def config_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        inner = field.annotation
        if isinstance(inner, types.UnionType):  # an optional table: its keys too
            tables = [t for t in typing.get_args(inner) if t is not type(None)]
            inner = tables[0] if len(tables) == 1 else inner
        if isinstance(inner, type) and issubclass(inner, BaseModel):  # a table: its keys
            yield from config_keys(inner, f"{prefix}{name}.")
        else:
            yield prefix + name


@pytest.mark.parametrize(("name", "command"), list(commands()), ids=[n for n, _ in commands()])
def test_every_command_and_option_is_in_the_manual(
    name: str, command: argparse.ArgumentParser
) -> None:
    manual = (DOCS / "commands.md").read_text()
    assert f"`{name}" in manual, f"{name} is not in docs/commands.md"
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"{name} {action.option_strings} has no help"
        for option in action.option_strings:
            if option not in ("-h", "--help", "-o"):
                assert f"`{option}" in manual or f" {option}" in manual, (
                    f"{name} {option} is not in docs/commands.md"
                )


@pytest.mark.parametrize("key", list(config_keys(Config)))
def test_every_config_key_is_in_the_manual(key: str) -> None:
    assert f"`{key}`" in (DOCS / "configuration.md").read_text()


def test_every_module_is_in_the_readme_layout() -> None:
    layout = README[README.index("## Layout") :]
    for path in sorted((ROOT / "advisory").rglob("*.py")):
        assert re.search(rf"^\s+{re.escape(path.name)}\s", layout, re.M), (
            f"{path.relative_to(ROOT)} is not in the README's layout"
        )
    for folder in sorted(p for p in (ROOT / "advisory").rglob("*") if p.is_dir()):
        if folder.name != "__pycache__":
            assert f" {folder.name}/" in layout, f"{folder.name}/ is not in the README's layout"


def test_every_page_is_linked_and_every_link_is_there() -> None:
    pages = sorted(DOCS.glob("*.md"))
    assert {p.name for p in pages} >= {"commands.md", "configuration.md", "publishers.md",
                                       "delivery.md", "operations.md"}  # fmt: skip
    for page in pages:
        assert f"(docs/{page.name})" in README, f"docs/{page.name} is not linked from the README"
    for source in [ROOT / "README.md", *pages, *DOCS.glob("adr/*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)\)", source.read_text()):
            assert (source.parent / target).exists(), f"{source.name} links to missing {target}"


def test_decisions_are_dated_and_numbered() -> None:
    records = sorted((DOCS / "adr").glob("*.md"))
    assert records
    for number, record in enumerate(records, 1):
        assert record.name.startswith(f"{number:04d}-")
        title, meta = record.read_text().splitlines()[:3:2]
        assert title.startswith(f"# {number}. ")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} · (accepted|superseded by \d+)", meta)


def test_the_readme_keeps_the_two_commands() -> None:
    assert "make run" in README and "make test" in README
