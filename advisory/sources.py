"""The service's own advisories: a folder of TOML files, one per country (and publisher)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from advisory._validate import read_toml, validate
from advisory.errors import ConfigError, Problem
from advisory.models import Advisory

__all__ = ["load_advisories"]


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
