"""The web endpoint `serve` answers on, in its own event loop: one-click unsubscribe
(RFC 8058), travellers' acknowledgements, health and metrics, on aiohttp's server.

`GET` never changes anything (mail scanners fetch every link); `POST` does. A token
is found by the reader it was registered for, then compared in constant time with
the one made for that address: a forged, cut or altered token is a 404 that changes
nothing. Pages are Jinja2 templates from `templates/`, data only, escaped.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Final

import jinja2
from aiohttp import web

from advisory.domain.models import Letterhead
from advisory.domain.trips import days
from advisory.mail.rendering import default_templates
from advisory.state import Store
from advisory.state.base import Traveller

__all__ = ["MAX_BODY", "Health", "application"]

MAX_BODY: Final = 64 * 1024  # a one-click body is 26 bytes; a form, a little more
_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{22}")
PAGES: Final = ("unsubscribe.html", "unsubscribed.html", "not_found.html", "ack.html")
_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

# (healthy, what /healthz says): from the service, which knows its last check.
Health = Callable[[], tuple[bool, dict[str, Any]]]
# The metrics in Prometheus's text format, as at this moment.
Scrape = Callable[[], bytes]
# An instant as the service's messages say it, in its timezone.
Moment = Callable[[float], str]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def application(
    head: Letterhead,
    store: Store,
    health: Health,
    scrape: Scrape | None = None,
    moment: Moment = str,
) -> web.Application:
    """The endpoint's routes, over the open state `store`."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(default_templates()),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    pages = {name: env.get_template(name) for name in PAGES}

    def page(name: str, status: int = 200, **context: Any) -> web.Response:
        body = pages[name].render(letterhead=head, **context)
        response = web.Response(text=body, status=status, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = _POLICY
        return response

    def reader(request: web.Request) -> str | None:
        token = request.match_info["token"]
        if not _TOKEN.fullmatch(token):
            return None
        address = store.suppressions.address_of(token)
        if address is None or not hmac.compare_digest(head.token(address), token):
            return None
        return address

    async def ask(request: web.Request) -> web.Response:
        return page("unsubscribe.html") if reader(request) else page("not_found.html", 404)

    async def unsubscribe(request: web.Request) -> web.Response:
        await request.read()  # a body past MAX_BODY is refused (413) before anything
        address = reader(request)
        if address is None:
            return page("not_found.html", 404)
        store.suppressions.suppress(address, "unsubscribed", time.time(), "one click")
        return page("unsubscribed.html")

    def asked(request: web.Request) -> Traveller | None:
        """The alert whose acknowledgement link this is; None for any other path."""
        token = request.match_info["token"]
        if not _TOKEN.fullmatch(token):
            return None
        found = store.acks.asked(token)
        if found is None:
            return None
        told = found.told
        return found if hmac.compare_digest(head.ack_token(told.recipient, told.version),
                                            token) else None  # fmt: skip

    def ack_page(found: Traveller) -> web.Response:
        """What is acknowledged, and the button; or when it was."""
        acked = found.acked_at
        advisory = store.outbox.advisory(found.told.version)
        if advisory is None:
            return page("not_found.html", 404)
        trip = days(date.fromisoformat(found.told.start), date.fromisoformat(found.told.end))
        return page("ack.html", advisory=advisory, country=advisory.country_name,
                    email=found.told.email, trip=trip,
                    acked=moment(acked) if acked is not None else None)  # fmt: skip

    async def ack_ask(request: web.Request) -> web.Response:
        found = asked(request)
        return page("not_found.html", 404) if found is None else ack_page(found)

    async def acknowledge(request: web.Request) -> web.Response:
        await request.read()  # a body past MAX_BODY is refused (413) before anything
        found = asked(request)
        if found is None:
            return page("not_found.html", 404)
        store.acks.acknowledge(found.told, time.time(), "web")  # a second press keeps the first
        return ack_page(asked(request) or found)

    async def healthz(request: web.Request) -> web.Response:
        healthy, said = health()
        return web.json_response(said, status=200 if healthy else 503)

    async def metrics(request: web.Request) -> web.Response:
        if scrape is None:
            return page("not_found.html", 404)
        response = web.Response(body=scrape())
        response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
        return response

    @web.middleware
    async def plain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        """aiohttp's own 404, 405 and 413 as short pages; anything else, one 500."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return page("not_found.html", 404)
        except web.HTTPException:
            raise
        except Exception:  # a reader never sees a traceback
            return web.Response(text="Something went wrong; nothing was changed.", status=500)

    app = web.Application(client_max_size=MAX_BODY, middlewares=[plain_errors])
    app.add_routes([
        web.get("/unsubscribe/{token}", ask, allow_head=False),
        web.post("/unsubscribe/{token}", unsubscribe),
        *(route for path in ("/ack/{token}", "/a/{token}")  # the short form, for the alert
          for route in (web.get(path, ack_ask, allow_head=False), web.post(path, acknowledge))),
        web.get("/healthz", healthz, allow_head=False),
        web.get("/metrics", metrics, allow_head=False),
    ])  # fmt: skip
    return app
