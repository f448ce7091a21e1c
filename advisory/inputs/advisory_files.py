"""The service's own advisories: a folder of TOML files, one per country (and publisher)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from advisory.domain.models import Advisory
from advisory.errors import ConfigError, Problem
from advisory.inputs.problems import read_toml, validate

__all__ = ["ignored", "load_advisories"]


def load_advisories(folder: Path, followed: Collection[str] = ()) -> list[Advisory]:
    """Every advisory in `folder`, validated; all problems of all files in one error.

    `followed`: the publishers followed from `[[sources]]`, whose views no file may hold.
    """
    if not folder.is_dir():
        raise ConfigError(Problem.at(folder, "", "advisory folder not found"))
    found: dict[str, Path] = {}
    advisories: list[Advisory] = []
    errors: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            advisory = validate(Advisory, read_toml(path), path)
        except ConfigError as e:
            errors.extend(e.problems)
            continue
        if advisory.publisher in followed:  # two current versions of one advisory
            errors.append(
                Problem.at(path, "publisher", f"{advisory.publisher} is followed in [[sources]]")
            )
            continue
        if advisory.key in found:  # one advisory per country and publisher
            errors.append(
                Problem.at(path, "country", f"{advisory.key} is already in {found[advisory.key]}")
            )
            continue
        found[advisory.key] = path
        advisories.append(advisory)
    if errors:
        raise ConfigError(errors)
    return advisories


def ignored(folder: Path) -> list[Path]:
    """Files in `folder` that are not read: not `.toml` (`ve.tml`, `ve.toml.bak`); hidden
    files and editor backups (`.ve.toml.swp`, `ve.toml~`) are nobody's mistake."""
    if not folder.is_dir():
        return []
    return sorted(
        path for path in folder.iterdir()
        if path.suffix != ".toml" and not path.name.startswith(".")
        and not path.name.endswith("~") and not path.is_dir()
    )  # fmt: skip
