"""A list of travellers and a duty desk, for the duty-of-care scenarios."""

from __future__ import annotations

SECRET = {"ADVISORY_TOKEN_SECRET": "a-secret-of-twenty-chars"}
TRAVELLERS = """\
[[subscribers]]
name = "Tara Traveller"
email = "tara@example.org"
countries = []
format = "html"
trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]

[[subscribers]]
name = "Ted Text"
email = "ted@example.org"
format = "text"
trips = [ { country = "VE", start = 2026-12-04, end = 2026-12-12 } ]

[[subscribers]]
name = "Paul Pager"
email = "paul@example.org"
format = "alert"
trips = [ { country = "VE", start = 2026-12-03, end = 2026-12-10 } ]

[[subscribers]]
name = "Stay Home"
email = "home@example.org"
countries = ["VE"]
"""
DESK = """
[http]
listen = "127.0.0.1:8080"
public_url = "https://alerts.example.org"

[escalation]
min_level = 4
after = "30m"
desk = "duty@example.org"
desk_name = "Duty desk"
"""


def on_trips(*names: str) -> str:
    """Readers named so (name@example.org, html), each on a trip to Venezuela this winter."""
    return "".join(
        f"""
[[subscribers]]
name = "{name}"
email = "{name.lower()}@example.org"
format = "html"
trips = [ {{ country = "VE", start = 2026-12-01, end = 2027-03-01 }} ]
"""
        for name in names
    )
