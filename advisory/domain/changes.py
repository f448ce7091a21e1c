"""What changed between the advisory a reader last received and the one they get now. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from advisory.domain.models import Advisory, Level, Risk

__all__ = ["Change", "what_changed"]


@dataclass(frozen=True, slots=True)
class Change:
    """The difference a reader is told about first; `previous` None means a first alert."""

    previous: Level | None
    level: Level
    added: tuple[Risk, ...] = ()
    removed: tuple[Risk, ...] = ()
    text_updated: bool = False

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
        return not (self.first or self.direction or self.added or self.removed or self.text_updated)

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
        if self.text_updated:
            out.append("The advisory text was updated.")
        return out

    def risk_marks(self) -> str:
        """'+detention -crime': the risk changes in an alert's few characters."""
        return " ".join(
            [*(f"+{r.value}" for r in self.added), *(f"-{r.value}" for r in self.removed)]
        )


def what_changed(before: Advisory | None, after: Advisory) -> Change:
    if before is None:
        return Change(None, after.level)
    old, new = set(before.risks), set(after.risks)
    return Change(
        previous=before.level,
        level=after.level,
        added=tuple(r for r in after.risks if r not in old),
        removed=tuple(r for r in before.risks if r not in new),
        text_updated=(before.title, before.summary, before.details)
        != (after.title, after.summary, after.details),
    )
