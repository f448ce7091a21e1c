"""What `GET /metrics` tells Prometheus, in its text format (the prometheus_client
library): the outbox and the suppression list as they are at the scrape, and what the
service's runs did since it started."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from advisory.run.counts import Counts
from advisory.state import Store

__all__ = ["Metrics"]


class _State(Collector):
    """Read at each scrape: messages by status, suppressions by reason."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        messages = GaugeMetricFamily(
            "advisory_messages", "Messages in the outbox, by status", labels=["status"]
        )
        counts = self.store.outbox.counts()
        for status in ("queued", "sent", "failed", "cancelled"):
            messages.add_metric([status], counts.get(status, 0))
        yield messages
        suppressed = GaugeMetricFamily(
            "advisory_suppressions", "Addresses on the suppression list, by reason",
            labels=["reason"],
        )  # fmt: skip
        reasons = self.store.suppressions.by_reason()
        for reason in ("unsubscribed", "bounced", "complained", "operator"):
            suppressed.add_metric([reason], reasons.get(reason, 0))
        yield suppressed
        answers = GaugeMetricFamily(
            "advisory_acknowledgements",
            "Travellers' last alerts per advisory that asked to be confirmed, by answer",
            labels=["answer"],
        )  # fmt: skip
        asked = self.store.acks.travellers()
        confirmed = sum(t.acked_at is not None for t in asked)
        answers.add_metric(["confirmed"], confirmed)
        answers.add_metric(["pending"], len(asked) - confirmed)
        yield answers


class Metrics:
    """The service's metrics, in a registry of their own."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.delivered = Counter(
            "advisory_deliveries", "Messages delivered, by job", ["job"], registry=self.registry
        )
        self.failures = Counter(
            "advisory_delivery_failures", "Delivery attempts that failed, by kind",
            ["kind"], registry=self.registry,
        )  # fmt: skip
        self.checks = Histogram(
            "advisory_check_duration_seconds", "How long each check took",
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900), registry=self.registry,
        )  # fmt: skip
        self.fetch_errors = Counter(
            "advisory_source_fetch_errors", "Errors fetching a publisher's documents",
            ["source"], registry=self.registry,
        )  # fmt: skip
        self.registry.register(_State(store))

    def ran(self, job: str, counts: Counts, seconds: float) -> None:
        self.delivered.labels(job).inc(counts.delivered)
        self.failures.labels("temporary").inc(counts.retrying)
        self.failures.labels("permanent").inc(counts.failed)
        if job == "check":
            self.checks.observe(seconds)

    def fetch_failed(self, source: str, errors: int) -> None:
        self.fetch_errors.labels(source).inc(errors)

    def text(self) -> bytes:
        return generate_latest(self.registry)
