"""Who gets what: subscribers matched to advisories by country and level. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from advisory.models import Advisory, Subscriber

__all__ = ["by_country", "concerning"]


def by_country(advisories: Iterable[Advisory]) -> dict[str, Advisory]:
    return {a.country: a for a in advisories}


def concerning(subscriber: Subscriber, advisories: Mapping[str, Advisory]) -> Iterator[Advisory]:
    """The advisories this subscriber should hear about, looked up by country, not scanned."""
    if subscriber.every_country:
        candidates: Iterable[Advisory] = advisories.values()
    else:
        candidates = (advisories[c] for c in subscriber.countries if c in advisories)
    return (a for a in candidates if a.level >= subscriber.min_level)
