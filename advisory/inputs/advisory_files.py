"""Where a run's advisories come from: the service's own folder of TOML files (one per
country, and publisher), and the followed publishers' current views in the state file."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from advisory.domain.models import Advisory
from advisory.errors import ConfigError, Problem
from advisory.inputs.config import Config
from advisory.inputs.problems import read_toml, validate
from advisory.state import Store

__all__ = ["known", "load_advisories"]


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


def known(config: Config, store: Store) -> list[Advisory]:
    """What a run plans from: the advisory files, and each followed publisher's current view."""
    sources = {s.kind: s for s in config.sources}
    publishers = {kind for kind in sources if kind != "files"}
    files = (
        load_advisories(config.service.advisories, followed=publishers)
        if config.follows_files
        else []
    )
    views = [a for a in store.publishers.followed() if a.publisher in publishers]
    # Each source's countries; the files with no [[sources]] at all are all followed.
    return [a for a in files + views if a.feed not in sources or sources[a.feed].follows(a.country)]
