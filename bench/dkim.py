"""DKIM cost: what signing adds to each message, beside composing it unsigned.

Renders the Venezuela advisory for one reader, composes it (the reference, in the same
invocation), then composes and signs it with a 2048-bit RSA key and an Ed25519 key.
Prints microseconds per message, the ratio to the unsigned message, and the most
messages a second one core could sign, to set beside bench/fanout.py's rate.

    .venv/bin/python bench/dkim.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from advisory.domain.models import Letterhead, Subscriber
from advisory.inputs.advisory_files import load_advisories
from advisory.mail.compose import Reader, compose
from advisory.mail.dkim import Signer
from advisory.mail.rendering import Renderer
from advisory.mail.splice import Splicer

ROOT = Path(__file__).resolve().parent.parent
RUNS = 2000


def best(work: Callable[[], object]) -> float:
    """Seconds per call, the best of three runs of RUNS calls."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(RUNS):
            work()
        times.append((time.perf_counter() - started) / RUNS)
    return min(times)


def main() -> None:
    [venezuela] = [a for a in load_advisories(ROOT / "config" / "advisories") if a.country == "VE"]
    head = Letterhead("advisories@example.org", "Travel Advisory Service", None,
                      "mailto:unsubscribe@example.org")  # fmt: skip
    sub = Subscriber(name="Ana Pérez", email="ana@example.org", countries=("VE",))
    rendered = Renderer().render(venezuela, sub, head)
    reader = Reader(sub.name, sub.email, "0" * 32, datetime.now(UTC))
    size = len(compose(rendered, head, reader).data)
    splicer = Splicer(head)
    template = splicer.template("g", lambda s: rendered, sub)
    assert template is not None
    print(f"message of {size:,} bytes; {'':<22} {'µs/msg':>8} {'ratio':>6} {'msg/s/core':>11}")
    keys = (("RSA 2048", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            ("Ed25519", ed25519.Ed25519PrivateKey.generate()))  # fmt: skip
    paths = (("spliced (fan-out)", lambda: splicer.envelope(template, reader).data),
             ("composed in full", lambda: compose(rendered, head, reader).data))  # fmt: skip
    for path, make in paths:
        plain = best(make)
        print(f"{path + ', unsigned':<42} {plain * 1e6:>8.0f} {1:>6.2f} {1 / plain:>11,.0f}")
        for name, key in keys:
            signer = Signer("example.org", "bench", key)
            signed = best(lambda s=signer, m=make: s.sign(m()))  # type: ignore[misc]
            print(f"{path + ' + DKIM ' + name:<42} {signed * 1e6:>8.0f} "
                  f"{signed / plain:>6.2f} {1 / signed:>11,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
