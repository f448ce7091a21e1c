"""A run whose inputs are as they were when a plan found nothing due plans nothing;
one where only some advisories changed plans only their readers.

Every scheduled check reads, validates and plans the whole list; with a million
readers that is most of a minute, and most checks find nothing new. So a plan that
found nothing due keeps the fingerprint of what it read (the program's version, the
config file, the subscriber and trips files, and the state's part: the messages queued,
the last one queued, the suppressions), each advisory's, and the counts it reported.
The next run for the same purpose with the same fingerprint reports those counts
without reading the list, until the first queued retry falls due or a trip's window
may open or close (at midnight, or `lead` before one, in the service's timezone). If
only advisories differ, nothing changed for a reader of none of them: the run plans
the readers of those advisories' countries alone (`Roster.of`), and adds what the
others were found to be (`Counts.by_country`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta

from advisory import __version__
from advisory.domain.models import Advisory
from advisory.inputs.config import Config
from advisory.inputs.subscribers import digest_of
from advisory.run.counts import PER_ADVISORY, Counts
from advisory.run.plan import Purpose
from advisory.state import Store
from advisory.state.base import Quiet

__all__ = ["Inputs", "Kept", "inputs", "keep", "recall", "settled"]

DAY = timedelta(days=1)
SKIPPABLE = ("send", "check", "retry")


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a run is about to plan from: its purpose, the fingerprint of all its inputs
    but the advisories, and each advisory's own (by key), with its country."""

    purpose: str
    files: str  # the digest of the program, the config and the list files
    facts: str  # the state's part (`Outbox.facts`)
    advisories: dict[str, str]
    countries: dict[str, str]
    first_due: float | None  # the first queued message's next attempt

    @property
    def fingerprint(self) -> str:
        """All but the advisories: what a kept plan must match to stand."""
        return hashlib.sha256(f"{self.files}\0{self.facts}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Kept:
    """The last plan that found nothing due, of the same inputs but perhaps the
    advisories: its counts, and the advisories it planned from."""

    counts: Counts
    advisories: dict[str, str]
    countries: dict[str, str]

    def changed(self, found: Inputs) -> set[str]:
        """The countries of the advisories new, changed or gone since that plan: only
        their readers may have something due now."""
        keys = self.advisories.keys() | found.advisories.keys()
        return {found.countries.get(k) or self.countries[k] for k in keys
                if self.advisories.get(k) != found.advisories.get(k)}  # fmt: skip

    def recalled(self) -> Counts:
        """Its counts, for a run that plans nothing."""
        return replace(self.counts, unchanged=1, carried=self.counts.readers)

    def with_(self, counts: Counts, countries: set[str]) -> Counts:
        """A run that planned only the readers of `countries` (`counts`), as though it
        had planned them all: what the others were found to be stands for them."""
        by = {c: t for c, t in self.counts.by_country.items() if c not in countries}
        by |= counts.by_country  # (of those countries alone)
        out = replace(counts, errors=list(counts.errors), by_country=by)
        for name in PER_ADVISORY:
            setattr(out, name, sum(found.get(name, 0) for found in by.values()))
        out.carried = self.counts.readers - counts.readers
        out.readers = self.counts.readers
        out.planned = self.counts.planned - counts.readers + counts.planned
        out.suppressed = self.counts.suppressed  # (the suppressions are as they were)
        return out


def inputs(
    config: Config, purpose: Purpose, advisories: list[Advisory], store: Store
) -> Inputs | None:
    """The fingerprint of a run's inputs; None where a run is never skipped (a --force,
    a --country, a digest, or a file that cannot be read: the plan says why)."""
    if purpose.force or purpose.countries is not None or purpose.job not in SKIPPABLE:
        return None
    digest = hashlib.sha256(__version__.encode() + b"\0" + config.raw)  # (rules change too)
    for path in (config.service.subscribers_file, config.service.trips_file):
        if path is not None and (hashed := digest_of(path)) is None:
            return None
        digest.update(b"\0%s" % (hashed if path is not None else b"-"))
    files = digest.hexdigest()
    facts, first_due = store.outbox.facts()
    told: dict[str, list[str]] = {}
    for advisory in advisories:  # (`update` is no version)
        told.setdefault(advisory.key, []).append(advisory.model_dump_json())
    return Inputs(
        "retries" if purpose.job == "retry" else "alerts",
        files,
        facts,
        {k: hashlib.sha256("\0".join(sorted(t)).encode()).hexdigest() for k, t in told.items()},
        {a.key: a.country for a in advisories},
        first_due,
    )


def settled(before: Inputs, after: Inputs, store: Store, countries: set[str]) -> bool:
    """Whether, from `before` to `after`, the state changed only by alerts of these
    countries' advisories (a run's own): the files, the queue and the suppressions as
    they were, and every message queued since one of those alerts. Then the others'
    readers still have nothing due, and a plan of these countries' readers is enough."""
    was, now = json.loads(before.facts), json.loads(after.facts)
    if after.files != before.files or was[:2] != now[:2] or was[3:] != now[3:]:
        return False
    written = store.outbox.written_since(was[2])
    return all(kind == "alert" and key.partition("@")[0] in countries for kind, key in written)


def recall(found: Inputs, store: Store, now: float) -> Kept | None:
    """The last plan that found nothing due, if its inputs were these (the advisories
    aside) and nothing can have fallen due since."""
    kept = store.outbox.quiet(found.purpose)
    # (A clock set back past when it was made: planned again, it may find a trip open.)
    if kept is None or kept.inputs != found.fingerprint or now < kept.made_at - 1:
        return None
    if kept.until is not None and now >= kept.until:
        return None
    try:
        said = json.loads(kept.counts)
        return Kept(Counts(**said["counts"]), dict(said["advisories"]), dict(said["countries"]))
    except (TypeError, ValueError, KeyError):  # kept by a version that kept otherwise: plan
        return None


def keep(config: Config, found: Inputs, store: Store, now: float, counts: Counts) -> None:
    """A plan of these inputs found nothing due: the next like it need not be made."""
    due = [t for t in (found.first_due, _window_edge(config, now)) if t is not None]
    said = {
        "counts": asdict(counts) | {"errors": [], "unchanged": 0, "carried": 0},
        "advisories": found.advisories,
        "countries": found.countries,
    }
    quiet = Quiet(found.fingerprint, now, min(due) if due else None, json.dumps(said))
    with store.transaction():
        store.outbox.keep_quiet(found.purpose, quiet)


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
