"""Domain values built for tests."""

from datetime import date

from advisory.domain.models import Advisory, Format, Letterhead, Subscriber
from advisory.mail.rendering import Renderer


def advisory(**changes: object) -> Advisory:
    base: dict[str, object] = {
        "country": "VE",
        "level": 4,
        "risks": ["detention"],
        "title": "Venezuela: do not travel",
        "summary": "Foreigners have been arrested arbitrarily and held as bargaining chips.",
        "details": "Travel to Venezuela has long been advised against.",
        "issued": date(2026, 11, 24),
        "source": "Travel Advisory Service",
    }
    return Advisory.model_validate(base | changes)


SECRET = b"a test key of some length"
HEAD = Letterhead(
    "advisories@example.org", "Travel Advisory Service", None, "https://example.org/u?t={token}",
    SECRET,
)  # fmt: skip
# With the service's own page: one click (RFC 8058), the mailto: second.
ONE_CLICK = Letterhead(
    "advisories@example.org", "Travel Advisory Service", None, "mailto:stop@example.org",
    SECRET, "https://alerts.example.org/unsubscribe/{token}",
)  # fmt: skip
# And `[escalation]`: travellers' alerts carry an acknowledgement link.
ACKS = Letterhead(
    "advisories@example.org", "Travel Advisory Service", None, "mailto:stop@example.org",
    SECRET, "https://alerts.example.org/unsubscribe/{token}", None, "https://alerts.example.org",
)  # fmt: skip
RENDERER = Renderer()


def reader(fmt: Format = Format.HTML, **changes: object) -> Subscriber:
    base: dict[str, object] = {
        "name": "Ana Pérez",
        "email": "ana@example.org",
        "countries": ["VE"],
        "format": fmt.value,
    }
    return Subscriber.model_validate(base | changes)
