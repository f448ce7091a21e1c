"""What a run plans from: the advisory files, and each followed publisher's current view."""

from __future__ import annotations

from advisory.domain.models import Advisory
from advisory.domain.publishers import FILES
from advisory.inputs.advisory_files import load_advisories
from advisory.inputs.config import Config
from advisory.state import PublisherCache

__all__ = ["known"]


def known(config: Config, publishers: PublisherCache) -> list[Advisory]:
    """What a run plans from: the advisory files, and each followed publisher's current view."""
    sources = {s.kind: s for s in config.sources}
    followed = {kind for kind in sources if kind != FILES}
    files = (
        load_advisories(config.service.advisories, followed=followed)
        if config.follows_files
        else []
    )
    views = [a for a in publishers.followed() if a.publisher in followed]
    # Each source's countries; the files with no [[sources]] at all are all followed.
    return [
        a
        for a in files + views
        if a.source_kind not in sources or sources[a.source_kind].follows(a.country)
    ]
