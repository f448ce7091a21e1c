"""Extraction benchmark: `advisory extract` scored on the labelled corpus of
tests/fixtures/articles/ (texts nobody tuned the extractor on line by line: wire copy,
embassy alerts, university bulletins, NGO situation reports; with distractors, regional
advice, texts without advice, two countries in one text).

Two more sets were written apart from the rules: holdout/ (scored unseen once, then read)
and fresh/ (never read while making them): the fresh scores say how the rules hold up on
text nobody here wrote. Prints, over every article of each set: sentence recall and
precision (the sentences an advisory must keep, against those kept), level accuracy,
risk F1 and country accuracy, beside their targets. `--check` exits 1 when the corpus or
holdout/ misses a target (fresh/ is told, not held: a set the rules are held to is soon a
set they are fitted to); `--show` lists each article's misses.

    .venv/bin/python bench/extract.py
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fixtures" / "articles"
# Written apart from the rules: `holdout` was scored once unseen (recall 0.836), then its
# misses were read and the rules widened; `fresh` has never been read while making them.
HELD_OUT = CORPUS / "holdout"
FRESH = CORPUS / "fresh"
TARGETS = {"sentence recall": 0.95, "sentence precision": 0.90, "level accuracy": 0.90,
           "country accuracy": 0.90, "risk F1": 0.0}  # fmt: skip

sys.path.insert(0, str(ROOT))
from advisory.extract import extract  # noqa: E402


def _plain(sentence: str) -> str:
    """A sentence as compared: without a bullet's mark, its spaces folded."""
    return " ".join(sentence.strip().lstrip("-•*–—· ").split())


@dataclass
class Score:
    kept: int = 0  # sentences kept that should be
    extra: int = 0  # kept, and should not be
    missed: int = 0  # should be kept, and were not
    risks_right: int = 0
    risks_extra: int = 0
    risks_missed: int = 0
    levels: int = 0
    countries: int = 0
    articles: int = 0

    def ratios(self) -> dict[str, float]:
        def ratio(a: int, b: int) -> float:
            return a / b if b else 1.0

        precision = ratio(self.risks_right, self.risks_right + self.risks_extra)
        recall = ratio(self.risks_right, self.risks_right + self.risks_missed)
        return {
            "sentence recall": ratio(self.kept, self.kept + self.missed),
            "sentence precision": ratio(self.kept, self.kept + self.extra),
            "level accuracy": ratio(self.levels, self.articles),
            "country accuracy": ratio(self.countries, self.articles),
            "risk F1": 2 * precision * recall / (precision + recall) if precision + recall else 0,
        }


def score(folder: Path = CORPUS, show: bool = False) -> Score:
    total = Score()
    for labels in sorted(folder.glob("*.toml")):
        want = tomllib.loads(labels.read_text(encoding="utf-8"))
        draft = extract(labels.with_suffix(".txt").read_text(encoding="utf-8"))
        got = {_plain(s) for s, _ in draft.kept}
        expected = {_plain(s) for s in want["kept"]}
        risks, wanted_risks = {r.value for r in draft.risks}, set(want["risks"])
        total.articles += 1
        total.kept += len(got & expected)
        total.extra += len(got - expected)
        total.missed += len(expected - got)
        total.risks_right += len(risks & wanted_risks)
        total.risks_extra += len(risks - wanted_risks)
        total.risks_missed += len(wanted_risks - risks)
        total.levels += draft.level.value == want["level"]
        total.countries += (draft.country or "") == want["country"]
        wrong = (draft.level.value, draft.country or "") != (want["level"], want["country"])
        if show and (got != expected or wrong or risks != wanted_risks):
            print(f"{labels.stem}: level {draft.level.value} (want {want['level']}), "
                  f"country {draft.country} (want {want['country']}), "
                  f"risks {sorted(risks)} (want {sorted(wanted_risks)})")  # fmt: skip
            for s in sorted(expected - got):
                print(f"   missed: {s}")
            for s in sorted(got - expected):
                print(f"   extra:  {s}")
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--show", action="store_true", help="each article's misses")
    args = parser.parse_args()
    sets = {"corpus": score(CORPUS, args.show), "holdout": score(HELD_OUT, args.show),
            "fresh": score(FRESH, args.show)}  # fmt: skip
    for name, total in sets.items():
        print(f"{name}: {total.articles} articles, {total.kept + total.missed} sentences to keep")
    print(f"{'measure':<20} {'corpus':>8} {'holdout':>8} {'fresh':>8} {'target':>7}")
    missed = []
    ratios = {name: total.ratios() for name, total in sets.items()}
    for measure, target in TARGETS.items():
        values = [ratios[name][measure] for name in sets]
        wanted = f"{target:>7.2f}" if target else ""
        print(f"{measure:<20} " + " ".join(f"{v:>8.3f}" for v in values) + f" {wanted}")
        missed += [measure for value in values[:2] if value < target]
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
