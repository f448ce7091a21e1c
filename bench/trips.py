"""Trips benchmark: `advisory check` over a trips file of 30,000, 100,000 and 300,000
rows (10 trips per traveller), each in a process of its own.

The reference, in the same invocation, is the same list of travellers without a trips
file: what reading the subscribers alone costs. Prints each run's peak resident memory
and seconds, and the ratios to the reference: flat memory means the ratio does not grow
with the rows.

    .venv/bin/python bench/trips.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "assert done.returncode == 0, done.stderr\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def project(folder: Path, travellers: int, trips: bool) -> Path:
    """A config with `travellers` readers in a CSV and, if `trips`, 10 trips each."""
    (folder / "advisories").mkdir(exist_ok=True)
    for advisory in (ROOT / "config" / "advisories").glob("*.toml"):
        (folder / "advisories" / advisory.name).write_bytes(advisory.read_bytes())
    with (folder / "people.csv").open("w", encoding="utf-8") as f:
        f.write("name,email,countries\n")
        f.writelines(f"P {i},p{i}@example.org,CO\n" for i in range(travellers))
    with (folder / "trips.csv").open("w", encoding="utf-8") as f:
        f.write("email,country,start,end\n")
        for i in range(travellers if trips else 0):
            first = date(2026, 1, 1) + timedelta(days=i % 300)
            f.writelines(
                f"p{i}@example.org,VE,{first + timedelta(days=40 * n)},"
                f"{first + timedelta(days=40 * n + 5)}\n"
                for n in range(10)
            )
    config = folder / "advisory.toml"
    config.write_text(
        '[service]\nstate = "state.sqlite3"\nsubscribers_file = "people.csv"\n'
        'trips_file = "trips.csv"\n[sender]\naddress = "a@example.org"\nname = "Bench"\n',
        encoding="utf-8",
    )
    return config


def measure(config: Path) -> tuple[int, float]:
    """Peak RSS (KiB) and seconds of one `advisory check`."""
    argv = [sys.executable, "-m", "advisory", "check", "--config", str(config)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return int(done.stdout), time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'run':<34} {'peak RSS':>10} {'seconds':>8} {'RSS ratio':>10}")
        for travellers in (3_000, 10_000, 30_000):
            folder = Path(tmp) / str(travellers)
            folder.mkdir()
            reference, ref_seconds = measure(project(folder, travellers, trips=False))
            print(f"{f'{travellers:,} readers, no trips':<34} {reference:>7,} KiB "
                  f"{ref_seconds:>8.2f} {1:>10.2f}")  # fmt: skip
            rss, seconds = measure(project(folder, travellers, trips=True))
            print(f"{f'{travellers:,} readers, {10 * travellers:,} trips':<34} {rss:>7,} KiB "
                  f"{seconds:>8.2f} {rss / reference:>10.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
