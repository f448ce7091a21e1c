"""Who gets what: subscribers matched to advisories by country (theirs, and those of
the trips open now), source and level (the highest anywhere in the country: a region
at level 4 reaches the level-4 readers). Pure."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

from advisory.domain.models import Advisory, Subscriber

__all__ = ["by_country", "concerning"]


def by_country(advisories: Iterable[Advisory]) -> dict[str, list[Advisory]]:
    """Advisories indexed by country: one per publisher that has a view of it."""
    out: dict[str, list[Advisory]] = {}
    for advisory in advisories:
        out.setdefault(advisory.country, []).append(advisory)
    return out


def concerning(
    subscriber: Subscriber,
    advisories: Mapping[str, Sequence[Advisory]],
    travelling: Collection[str] = (),
) -> Iterator[Advisory]:
    """The advisories this subscriber should hear about, looked up by country, not
    scanned. `travelling`: the countries of their trips open now."""
    if subscriber.every_country:
        candidates: Iterable[Sequence[Advisory]] = advisories.values()
    else:
        countries: Iterable[str] = subscriber.countries
        if travelling:
            countries = dict.fromkeys((*subscriber.countries, *travelling))
        candidates = (advisories[c] for c in countries if c in advisories)
    return (
        a
        for group in candidates
        for a in group
        if a.highest >= subscriber.min_level and subscriber.follows(a)
    )
