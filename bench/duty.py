"""Duty-of-care benchmark: what one pass of `serve`'s escalation job costs, over a state of
1,000, 10,000 and 100,000 travellers' alerts (real SQLite files).

Two passes per size: a quiet one (every alert told to the desk, half confirmed, the rest
reminded and escalated: nothing is due), which `serve` runs every tenth of
`escalation.after`; and a due one (every alert delivered past `after`, none confirmed:
a reminder each, one escalation and one summary), planned but not delivered. The
reference, in the same invocation, is the quiet pass over 1,000; the ratios say how a
pass grows with the travellers.

    .venv/bin/python bench/duty.py
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from advisory.domain.models import Advisory
from advisory.inputs.config import Escalation
from advisory.run.duty import plan_duty
from advisory.state import open_store
from advisory.state.base import Attempt, Entry, Store, Told

VE = Advisory.model_validate({
    "country": "VE", "level": 4, "title": "Venezuela: do not travel",
    "summary": "Foreigners risk arbitrary detention.", "issued": date(2026, 11, 24),
    "source": "Bench",
})  # fmt: skip
ESCALATION = Escalation.model_validate({"after": "30m", "desk": "duty@example.org"})
SENT = 1_000_000.0  # when the alerts were delivered


def state(path: Path, travellers: int, *, quiet: bool) -> Store:
    store = open_store(path)
    keys = [f"k{i:07d}" for i in range(travellers)]
    with store.transaction():
        store.outbox.remember(VE, SENT)
        store.outbox.enqueue(
            Entry(k, "alert", f"p{i}@example.org", "VE", VE.version, "html", "queued", SENT)
            for i, k in enumerate(keys)
        )
        store.acks.told(
            Told(k, f"p{i}@example.org", f"p{i}@example.org", f"P {i}", "VE", VE.version, "VE",
                 "2026-12-03", "2026-12-10", f"t{i:021d}")
            for i, k in enumerate(keys)
        )  # fmt: skip
    store.outbox.record_many([Attempt(k, "sent", SENT) for k in keys])
    if quiet:
        with store.transaction():
            store.outbox.enqueue([Entry("desk", "summary", "duty@example.org", "VE", VE.version,
                                        "html", "queued", SENT)])  # fmt: skip
            store.acks.mark("desk", "summary", keys)
            store.acks.mark("desk", "escalation", keys[1::2])
            store.acks.mark("desk", "reminder", keys[1::2])
        store.outbox.record_many([Attempt("desk", "sent", SENT)])
        for i, k in enumerate(keys[::2]):
            found = store.acks.asked(f"t{2 * i:021d}")
            assert found is not None and found.told.key == k
            store.acks.acknowledge(found.told, SENT + 60, "web")
    return store


def one_pass(store: Store) -> tuple[float, int]:
    """Seconds to plan a pass at 31 minutes past the deliveries, and the messages due."""
    started = time.perf_counter()
    plan = plan_duty(store, ESCALATION, SENT + 31 * 60, suppressed=store.suppressions.among)
    due = sum(len(chunk) for chunk in plan.chunks)
    return time.perf_counter() - started, due


def main() -> None:
    print(f"{'pass':<32} {'seconds':>8} {'due':>8} {'ratio':>8}")
    reference = None
    with tempfile.TemporaryDirectory() as tmp:
        for travellers in (1_000, 10_000, 100_000):
            for quiet in (True, False):
                path = Path(tmp) / f"{travellers}-{quiet}.sqlite3"
                with state(path, travellers, quiet=quiet) as store:
                    seconds, due = min(one_pass(store) for _ in range(3))
                reference = reference or seconds
                what = f"{travellers:,} travellers, {'quiet' if quiet else 'all due'}"
                print(f"{what:<32} {seconds:>8.3f} {due:>8,} {seconds / reference:>8.1f}")


if __name__ == "__main__":
    main()
