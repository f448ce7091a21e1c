"""What changed between the advisory a reader last received and the one they get now. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from advisory.domain.models import Advisory, Level, Risk
from advisory.domain.text import plural, sentences

__all__ = ["SHOWN", "Change", "what_changed"]

SHOWN: Final = 5  # sentences added (and removed) told; the rest in a count


@dataclass(frozen=True, slots=True)
class Change:
    """The difference a reader is told about first; `previous` None means a first alert."""

    previous: Level | None
    level: Level
    added: tuple[Risk, ...] = ()
    removed: tuple[Risk, ...] = ()
    text_updated: bool = False
    # Regional advice: (name, level) added or removed; (name, from, to) raised or lowered.
    regions_added: tuple[tuple[str, Level], ...] = ()
    regions_removed: tuple[tuple[str, Level], ...] = ()
    regions_moved: tuple[tuple[str, Level, Level], ...] = ()
    # The sentences of the text (summary, details, regions' summaries) new in this
    # version, and those gone from the one the reader holds, in the text's order.
    said: tuple[str, ...] = ()
    unsaid: tuple[str, ...] = ()

    @property
    def text_only(self) -> bool:
        """Only the words changed: no level, risk or region a reader would act on."""
        return not (
            self.first or self.direction or self.added or self.removed
            or self.regions_added or self.regions_removed or self.regions_moved
        )  # fmt: skip

    @property
    def told(self) -> bool:
        """Whether a message has anything to say first of what changed."""
        return bool(self.sentences() or self.said or self.unsaid)

    @property
    def new_sentences(self) -> tuple[list[str], str]:
        """The first SHOWN sentences added, and "and 3 more" (or "") for the rest."""
        return _shown(self.said)

    @property
    def old_sentences(self) -> tuple[list[str], str]:
        """The same of the sentences removed."""
        return _shown(self.unsaid)

    @property
    def first(self) -> bool:
        return self.previous is None

    @property
    def direction(self) -> str:
        """'raised', 'lowered' or '' when the level stayed."""
        if self.previous is None or self.previous == self.level:
            return ""
        return "raised" if self.level > self.previous else "lowered"

    @property
    def unchanged(self) -> bool:
        return not (
            self.first or self.direction or self.added or self.removed or self.text_updated
            or self.regions_added or self.regions_removed or self.regions_moved
        )  # fmt: skip

    def sentences(self) -> list[str]:
        """What changed, one sentence each, for the top of an email."""
        if self.previous is None:
            return []
        out = []
        if self.direction:
            out.append(
                f"Level {self.direction} from {self.previous.value} ({self.previous.label}) "
                f"to {self.level.value} ({self.level.label})."
            )
        if self.added:
            out.append(f"Risks added: {', '.join(r.label for r in self.added)}.")
        if self.removed:
            out.append(f"Risks removed: {', '.join(r.label for r in self.removed)}.")
        for name, level in self.regions_added:
            out.append(f"Now advised for {name}: Level {level.value} ({level.label}).")
        for name, old, new in self.regions_moved:
            way = "raised" if new > old else "lowered"
            out.append(f"{name}: {way} from {old.value} ({old.label}) to {new.value} "
                       f"({new.label}).")  # fmt: skip
        for name, level in self.regions_removed:
            out.append(f"No longer advised separately: {name} (was Level {level.value}).")
        if self.text_updated and not (self.said or self.unsaid):
            out.append("The advisory text was updated.")  # its title, or only its layout
        return out

    def region_marks(self) -> str:
        """'+region -region': regional changes in an alert's few characters."""
        up = any(new > old for _, old, new in self.regions_moved) or self.regions_added
        down = any(new < old for _, old, new in self.regions_moved) or self.regions_removed
        return " ".join(m for m, on in (("+region", up), ("-region", down)) if on)

    def risk_marks(self) -> str:
        """'+detention -crime': the risk changes in an alert's few characters."""
        return " ".join(
            [*(f"+{r.value}" for r in self.added), *(f"-{r.value}" for r in self.removed)]
        )


def _shown(told: tuple[str, ...]) -> tuple[list[str], str]:
    rest = len(told) - SHOWN
    return list(told[:SHOWN]), (f"and {plural(rest, 'more sentence')}" if rest > 0 else "")


def _sentences(advisory: Advisory, regions: dict[str, str]) -> list[str]:
    """What the advisory says, sentence by sentence; of `regions` (in both versions: a
    region added or removed is told as such), each under its name as it is now."""
    out = sentences("\n".join([advisory.summary, *advisory.paragraphs]))
    for region in advisory.regions:
        if (name := regions.get(region.name.casefold())) is not None:
            out += [f"{name}: {s}" for s in sentences(region.summary)]
    return out


def what_changed(before: Advisory | None, after: Advisory) -> Change:
    if before is None:
        return Change(None, after.level)
    old, new = set(before.risks), set(after.risks)
    was = {r.name.casefold(): r for r in before.regions}  # a name's case is no change
    now = {r.name.casefold(): r for r in after.regions}
    both = {n: r.name for n, r in now.items() if n in was}  # (a name's case is no change)
    old_text, new_text = _sentences(before, both), _sentences(after, both)
    had, has = set(old_text), set(new_text)
    return Change(
        previous=before.level,
        level=after.level,
        added=tuple(r for r in after.risks if r not in old),
        removed=tuple(r for r in before.risks if r not in new),
        text_updated=(before.title, before.summary, before.details)
        != (after.title, after.summary, after.details)
        or any(was[n].summary != r.summary for n, r in now.items() if n in was),
        regions_added=tuple((r.name, r.level) for n, r in now.items() if n not in was),
        regions_removed=tuple((r.name, r.level) for n, r in was.items() if n not in now),
        regions_moved=tuple((r.name, was[n].level, r.level) for n, r in now.items()
                            if n in was and was[n].level != r.level),
        said=tuple(dict.fromkeys(s for s in new_text if s not in had)),
        unsaid=tuple(dict.fromkeys(s for s in old_text if s not in has)),
    )  # fmt: skip
