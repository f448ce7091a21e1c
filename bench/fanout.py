"""Fan-out benchmark: `advisory send` against Postfix's smtp-sink, beside smtp-source.

For each N it generates N subscribers (CSV, `subscribers_file`), starts `smtp-sink` on a
free 127.0.0.1 port, sends N messages of the same size with `smtp-source` (the C
reference: connection reuse, 50 sessions), then runs `advisory send` (one shard process
per core) on the same sink and prints messages/s for both, the ratio, our peak RSS
(summed over all our processes) and wall time. Counts are checked at the sink. Then,
for each N, the quiet check: the CPU of a `send` with nothing changed since a plan
found nothing due, beside that plan's own; and of one after an advisory read by one
reader in a hundred changed. Installs
Debian's `postfix` package if smtp-sink is missing, without starting the Postfix daemon.

    .venv/bin/python bench/fanout.py            # N = 10,000 and 100,000
    .venv/bin/python bench/fanout.py --full     # and 1,000,000
    .venv/bin/python bench/fanout.py --dkim rsa # every message signed (or ed25519)
    .venv/bin/python bench/fanout.py --state postgresql:///postgres

With `--state URL` (a PostgreSQL server; the bench makes a database on it for each run
and drops it after), each N is also sent with the state on that server: by one `send`
split over the cores (`smtp.processes`), and by 1, 2 and 4 `send` processes at once
sharing the work (each `smtp.processes = 1`, the 50 connections divided among them).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 50
PROCESSES = os.cpu_count() or 1
ENV = {**os.environ, "ADVISORY_TOKEN_SECRET": "bench-token-secret-0123456789"}
NAMES = ["Ana Pérez", "Ben Okafor", "Chloé Martin", "Zoë Ñúñez", "李小龙", "Olav Ødegård"]


def ensure_postfix_tools() -> None:
    if shutil.which("smtp-sink") and shutil.which("smtp-source"):
        return
    print("installing Debian's postfix package for smtp-sink and smtp-source…", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    policy = Path("/usr/sbin/policy-rc.d")  # never start the Postfix daemon
    if not policy.exists():
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postfix"], check=True, env=env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """smtp-sink counting what it accepts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by stop()
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{self.port}", "1000"],
            stdout=self.out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> int:
        """Messages accepted (the connection probe above accepted none)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        self.out.seek(0)
        counts = re.findall(rb"mesg=(\d+)", self.out.read())
        self.out.close()
        return int(counts[-1]) if counts else 0


class TreeRss:
    """Peak of the summed resident memory of a process and its children (the shards)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.mb, self.done = pid, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _tree(self, pid: int) -> list[int]:
        try:
            kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return [pid]
        return [pid, *(p for kid in kids for p in self._tree(int(kid)))]

    def _watch(self) -> None:
        while not self.done.wait(0.05):
            total = 0
            for pid in self._tree(self.pid):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                total += (
                    int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) if "VmRSS" in status else 0
                )  # type: ignore[union-attr]
            self.mb = max(self.mb, total / 1024)

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def project(
    folder: Path,
    n: int,
    port: int,
    dkim: str = "",
    *,
    state: str = "state.sqlite3",
    processes: int = PROCESSES,
    connections: int = SESSIONS,
) -> Path:
    (folder / "advisories").mkdir(parents=True)
    for name in ("ve.toml", "co.toml"):
        shutil.copy(ROOT / "config" / "advisories" / name, folder / "advisories")
    with (folder / "people.csv").open("w", encoding="utf-8") as f:
        f.write("name,email,countries,min_level,format\n")
        for i in range(n):  # (one in a hundred reads Colombia's advisory instead)
            country = "CO" if i % 100 == 99 else "VE"
            f.write(f"{NAMES[i % len(NAMES)]} {i},person{i}@example.org,{country},1,html\n")
    config = folder / "advisory.toml"
    config.write_text(
        f'[service]\nstate = "{state}"\nsubscribers_file = "people.csv"\n\n'
        '[sender]\naddress = "advisories@example.org"\nname = "Travel Advisory Service"\n'
        'unsubscribe = "https://example.org/unsubscribe?t={token}"\n\n'
        '[delivery]\ntransport = "smtp"\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        f"connections = {connections}\nprocesses = {processes}\n" + _dkim(folder, dkim),
        encoding="utf-8",
    )
    return config


def _dkim(folder: Path, kind: str) -> str:
    """A [dkim] section with a new key of `kind` ("rsa" or "ed25519"), or nothing."""
    if not kind:
        return ""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa"
           else ed25519.Ed25519PrivateKey.generate())  # fmt: skip
    (folder / "dkim.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return '\n[dkim]\ndomain = "example.org"\nselector = "bench"\nkey_file = "dkim.pem"\n'


def message_size(config: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "advisory", "preview", "--config", str(config),
         "--subscriber", "person0@example.org"],
        capture_output=True, check=True, cwd=ROOT, env=ENV,
    )  # fmt: skip
    return len(out.stdout.replace(b"\n", b"\r\n"))


def reference(n: int, size: int) -> float:
    sink = Sink()
    started = time.perf_counter()
    subprocess.run(
        ["smtp-source", "-d", "-m", str(n), "-s", str(SESSIONS), "-l", str(size),
         "-f", "advisories@example.org", "-t", "person@example.org", f"127.0.0.1:{sink.port}"],
        check=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    accepted = sink.stop()
    assert accepted == n, f"smtp-sink counted {accepted} of {n}"
    return n / wall


def ours(
    n: int,
    folder: Path,
    dkim: str = "",
    *,
    state: str = "state.sqlite3",
    workers: int = 1,
    processes: int = PROCESSES,
) -> tuple[float, float, float]:
    """(messages/s, peak RSS in MB summed, wall seconds) of `workers` `advisory send`
    processes started at once on one state, each split over `processes`."""
    sink = Sink()
    config = project(folder, n, sink.port, dkim, state=state, processes=processes,
                     connections=SESSIONS // workers)  # fmt: skip
    started = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "advisory", "send", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env=ENV,
    ) for _ in range(workers)]  # fmt: skip
    peaks = [TreeRss(proc.pid) for proc in procs]
    outputs = [proc.communicate()[0].decode() for proc in procs]
    wall = time.perf_counter() - started
    for peak in peaks:
        peak.stop()
    accepted = sink.stop()
    assert all(proc.returncode == 0 for proc in procs), outputs
    assert accepted == n, f"smtp-sink counted {accepted} of {n}: {outputs}"
    delivered = sum(int(m) for out in outputs for m in re.findall(r"delivered (\d+)", out))
    assert delivered == n, outputs
    return n / wall, sum(peak.mb for peak in peaks), wall


def quiet_check(folder: Path, n: int) -> tuple[float, float, float, float]:
    """CPU seconds of the `advisory send` after a complete one: the first plans the
    whole list and finds nothing due; the second finds its inputs as that plan left
    them and plans nothing (`run/quiet.py`); the third, after Colombia's advisory
    changed, plans and sends to its readers alone (one in a hundred); the fourth again
    plans nothing."""
    config = folder / "advisory.toml"
    port = int(re.findall(r"port = (\d+)", config.read_text())[0])
    co = folder / "advisories" / "co.toml"
    readers = n // 100
    spent = []
    for expected in ("nothing due", "nothing changed since the last check",
                     f"due {readers}, delivered {readers}", "nothing changed since"):  # fmt: skip
        if expected.startswith("due"):
            co.write_text(co.read_text().replace("level = 2", "level = 3", 1))
            sink = Sink(port)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-m", "advisory", "send", "--config", str(config)],
                              capture_output=True, text=True, cwd=ROOT, env=ENV)  # fmt: skip
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert done.returncode == 0 and expected in done.stdout, (done.stdout, done.stderr)
        if expected.startswith("due"):
            assert f"{readers:,} readers planned" in done.stdout or (
                f"{readers} readers planned" in done.stdout
            ), done.stdout
            assert sink.stop() == readers
        spent.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return spent[0], spent[1], spent[2], spent[3]


@contextmanager
def database(server: str) -> Iterator[str]:
    """A new database on `server` (a PostgreSQL URL), dropped afterwards."""
    import psycopg

    name = f"advisory_bench_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server)
    try:
        yield f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{parts.query}" if parts.query else "")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also N = 1,000,000")
    parser.add_argument("-n", type=int, action="append", help="these N instead")
    parser.add_argument("--dkim", choices=("rsa", "ed25519"), default="",
                        help="sign every message with a new key of this kind")  # fmt: skip
    parser.add_argument("--state", metavar="URL", help="also with the state on this server")
    args = parser.parse_args()
    sizes = args.n or [10_000, 100_000, *([1_000_000] if args.full else [])]
    ensure_postfix_tools()
    print(f"{'N':>9} {'state':<26} {'ref msg/s':>10} {'ours msg/s':>11} {'ratio':>6} "
          f"{'peak RSS':>9} {'wall':>8}")  # fmt: skip
    quiet: list[str] = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            size = message_size(project(folder / "probe", 1, 25))
            ref = reference(n, size)
            runs = [("SQLite, 1 send", {})]
            if args.state:
                runs += [(f"PostgreSQL, 1 send ({PROCESSES} shards)", {"workers": 1}),
                         *((f"PostgreSQL, {w} send{'s' * (w > 1)}", {"workers": w,
                            "processes": 1}) for w in (1, 2, 4))]  # fmt: skip
            for i, (label, how) in enumerate(runs):
                if "workers" not in how:
                    rate, rss, wall = ours(n, folder / f"run{i}", args.dkim)
                else:
                    with database(args.state) as url:
                        rate, rss, wall = ours(n, folder / f"run{i}", args.dkim, state=url,
                                               **how)  # fmt: skip
                print(f"{n:>9,} {label:<26} {ref:>10,.0f} {rate:>11,.0f} {rate / ref:>6.3f} "
                      f"{rss:>7.0f}MB {wall:>7.1f}s", flush=True)  # fmt: skip
                if i == 0:
                    planned, unchanged, changed, after = quiet_check(folder / "run0", n)
                    quiet.append(f"{n:>9,} quiet check: {unchanged:.2f}s CPU with nothing "
                                 f"changed; {planned:.2f}s planning the list to find nothing "
                                 "due")  # fmt: skip
                    quiet.append(f"{n:>9,} one advisory changed: {changed:.2f}s CPU planning "
                                 f"and sending to its {n // 100:,} readers alone; the check "
                                 f"after it {after:.2f}s")  # fmt: skip
    for line in quiet:
        print(line)


if __name__ == "__main__":
    main()
