"""A run whose inputs are as they were when a plan found nothing due plans nothing.

Every scheduled check reads, validates and plans the whole list; with a million
readers that is most of a minute, and most checks find nothing new. So a plan that
found nothing due keeps the fingerprint of what it read (the program's version, the
config file, the subscriber and trips files, the advisories, and the state's part: the
messages queued, the last one queued, the suppressions) with the counts it reported. The
next run for the same purpose with the same fingerprint reports those counts without
reading the list, until the first queued retry falls due or a trip's window may open or
close (at midnight, or `lead` before one, in the service's timezone).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from importlib import metadata
from pathlib import Path

from advisory.domain.models import Advisory
from advisory.inputs.config import Config
from advisory.run.counts import Counts
from advisory.run.plan import Purpose
from advisory.state import Store
from advisory.state.base import Quiet

__all__ = ["Inputs", "inputs", "keep", "recall"]

DAY = timedelta(days=1)
SKIPPABLE = ("send", "check", "retry")


def _version() -> str:
    try:
        return metadata.version("advisory")
    except metadata.PackageNotFoundError:  # (run from a checkout not installed)
        return "unknown"


_VERSION = _version()


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a run is about to plan from: its purpose and the fingerprint of its inputs."""

    purpose: str
    fingerprint: str
    first_due: float | None  # the first queued message's next attempt


def inputs(
    config: Config, purpose: Purpose, advisories: list[Advisory], store: Store
) -> Inputs | None:
    """The fingerprint of a run's inputs; None where a run is never skipped (a --force,
    a --country, a digest, or a file that cannot be read: the plan says why)."""
    if purpose.force or purpose.countries is not None or purpose.job not in SKIPPABLE:
        return None
    digest = hashlib.sha256(_VERSION.encode() + b"\0" + config.raw)  # (rules change too)
    for path in (config.service.subscribers_file, config.service.trips_file):
        if path is not None and (hashed := _hash(path)) is None:
            return None
        digest.update(b"\0%s" % (hashed if path is not None else b"-"))
    for told in sorted(a.model_dump_json() for a in advisories):  # (`update` is no version)
        digest.update(b"\0" + told.encode())
    facts, first_due = store.outbox.facts()
    digest.update(b"\0" + facts.encode())
    return Inputs("retries" if purpose.job == "retry" else "alerts", digest.hexdigest(), first_due)


def recall(found: Inputs, store: Store, now: float) -> Counts | None:
    """The counts of the last plan that found nothing due, if its inputs were these and
    nothing can have fallen due since."""
    kept = store.outbox.quiet(found.purpose)
    # (A clock set back past when it was made: planned again, it may find a trip open.)
    if kept is None or kept.inputs != found.fingerprint or now < kept.made_at - 1:
        return None
    if kept.until is not None and now >= kept.until:
        return None
    try:
        return Counts(**json.loads(kept.counts) | {"unchanged": 1})
    except (TypeError, ValueError):  # kept by a version that counted otherwise: plan
        return None


def keep(config: Config, found: Inputs, store: Store, now: float, counts: Counts) -> None:
    """A plan of these inputs found nothing due: the next like it need not be made."""
    due = [t for t in (found.first_due, _window_edge(config, now)) if t is not None]
    said = asdict(counts) | {"errors": []}
    quiet = Quiet(found.fingerprint, now, min(due) if due else None, json.dumps(said))
    with store.transaction():
        store.outbox.keep_quiet(found.purpose, quiet)


def _hash(path: Path) -> bytes | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").digest()
    except OSError:
        return None


def _window_edge(config: Config, now: float) -> float | None:
    """The next instant a trip's window may open or close, where there are trips."""
    if config.service.trips_file is None and not any(s.trips for s in config.subscribers):
        return None
    travel = config.travel
    zone = travel.zone
    today = datetime.combine(datetime.fromtimestamp(now, zone).date(), time(), zone)
    lead = travel.lead % DAY
    edges = (today + DAY * days - shift for days in range(3) for shift in (timedelta(), lead))
    return min(t for edge in edges if (t := edge.timestamp()) > now)
