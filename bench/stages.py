"""Where a send's time goes, stage by stage: one `advisory send` of N html messages (one
process, 50 connections) to Postfix's smtp-sink, under cProfile.

Each stage is the profile's cumulative time of the functions that do it, per message:
read and validate (the list), plan (with its reads of the outbox), ledger (queue,
claims, outcomes written), compose (each message's bytes), SMTP (the transport's own
work for each message: commands, replies); the rest is the event loop, the sockets'
callbacks and start-up. A profile slows Python code more than C, so the figures are
for comparing stages and commits, not for a rate (`bench/fanout.py` gives those).

    .venv/bin/python bench/stages.py            # N = 20,000
    .venv/bin/python bench/stages.py -n 100000
"""

from __future__ import annotations

import argparse
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fanout  # the bench's own helpers: the sink and the project

STAGES = {
    "read and validate": [("inputs/subscribers.py", "read_roster")],
    "plan": [("run/plan.py", "chunks")],
    "ledger": [
        ("run/deliver.py", "queue"),
        ("run/deliver.py", "flush"),  # (at 1,000 outcomes and at the end)
        ("run/deliver.py", "_flush_every"),  # (each 50 ms, with its commit)
        ("run/deliver.py", "claim"),
    ],
    "compose": [("run/deliver.py", "envelope")],
    "SMTP": [("mail/transports.py", "send")],
}


def profile(n: int, folder: Path) -> pstats.Stats:
    sink = fanout.Sink()
    config = fanout.project(folder, n, sink.port, processes=1)
    out = folder / "profile"
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "advisory", "send",
         "--config", str(config)],
        check=True, capture_output=True, cwd=fanout.ROOT, env=fanout.ENV,
    )  # fmt: skip
    accepted = sink.stop()
    assert accepted == n, f"smtp-sink counted {accepted} of {n}"
    return pstats.Stats(str(out))


def stages(stats: pstats.Stats) -> dict[str, float]:
    """Stage -> seconds: per function, the largest cumulative time among the functions
    of that name in that file (plan's generators nest: the outer one holds the inner)."""
    table = stats.stats  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for stage, wanted in STAGES.items():
        out[stage] = sum(
            max((cumulative for (path, _, name), (_, _, _, cumulative, _) in table.items()
                 if path.endswith(f"advisory/{file}") and name == function), default=0.0)
            for file, function in wanted
        )  # fmt: skip
    total = max(cumulative for (_, _, _, cumulative, _) in table.values())
    out["event loop, sockets, start-up"] = total - sum(out.values())
    out["total"] = total
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000)
    args = parser.parse_args()
    fanout.ensure_postfix_tools()
    with tempfile.TemporaryDirectory() as tmp:
        seconds = stages(profile(args.n, Path(tmp)))
    total = seconds["total"]
    print(f"{'stage':<32} {'µs/message':>10} {'share':>6}   (N = {args.n:,}, under cProfile)")
    for stage, s in seconds.items():
        print(f"{stage:<32} {s / args.n * 1e6:>10.0f} {s / total:>6.0%}")


if __name__ == "__main__":
    main()
