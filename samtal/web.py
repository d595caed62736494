"""The bot's small web server: health, metrics and calendar feeds.

`GET /healthz` answers 200 "ok" when this replica works, else 503 with one reason a
line (samtal/health.py); `GET /metrics` is Prometheus' text format (samtal/metrics.py).

With email on, `/email/...` serves the pages behind emails' links (samtal/mail.py).

`GET /calendar/<org>.ics` serves the same iCalendar as `samtal calendar --org
<org>`: the organisation's open meetings and its annual wheel, for anyone.
`GET /calendar/me/<token>.ics` serves one member's own feed (bot/feeds), members-only
meetings included, to whoever holds the secret token that `/kalender` gave them.
It runs unless `[web] enabled = false`; it listens on 127.0.0.1:8080 by default,
meant to sit behind a reverse proxy that adds TLS (`[web] public_url`) for the feeds.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from aiohttp import web

from bot.clock import Clock
from bot.context import Effects
from bot.feeds.service import person_for, personal_calendar
from bot.ports import UnitOfWorkFactory
from bot.render.wheel_calendar import organisation_calendar

if TYPE_CHECKING:
    from samtal.health import Health
    from samtal.mail import EmailPages
    from samtal.metrics import Metrics

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def build_app(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    health: Health | None = None,
    metrics: Metrics | None = None,
    email: EmailPages | None = None,
) -> web.Application:
    async def calendar(request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        if not SLUG.match(slug):
            raise web.HTTPNotFound(text="no such calendar")
        async with uow_factory() as uow:
            org = await uow.orgs.by_slug(slug)
            if org is None:
                raise web.HTTPNotFound(text="no such calendar")
            data = await organisation_calendar(uow, org, clock.now())
        return web.Response(
            body=data,
            content_type="text/calendar",
            charset="utf-8",
            headers={
                "Content-Disposition": f'inline; filename="{slug}.ics"',
                "Cache-Control": "max-age=900",
            },
        )

    async def personal(request: web.Request) -> web.Response:
        async with uow_factory() as uow:
            fx = Effects(uow, clock)
            person = await person_for(fx, request.match_info["token"])
            if person is None:  # unknown, stopped or erased: the same answer
                raise web.HTTPNotFound(text="no such calendar")
            data = await personal_calendar(fx, person)
        return web.Response(
            body=data,
            content_type="text/calendar",
            charset="utf-8",
            headers={
                "Content-Disposition": 'inline; filename="samtal.ics"',
                # One person's calendar: no shared cache keeps it, no page is told the address.
                "Cache-Control": "private, max-age=900",
                "Referrer-Policy": "no-referrer",
            },
        )

    async def healthz(request: web.Request) -> web.Response:
        assert health is not None
        report = await health.check()
        return web.Response(
            status=200 if report.ok else 503,
            text=report.text(),
            headers={"Cache-Control": "no-store"},
        )

    async def prometheus(request: web.Request) -> web.Response:
        assert metrics is not None
        from samtal.metrics import CONTENT_TYPE

        return web.Response(body=await metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/calendar/me/{token}.ics", personal)
    app.router.add_get("/calendar/{slug}.ics", calendar)
    if health is not None:
        app.router.add_get("/healthz", healthz)
    if metrics is not None:
        app.router.add_get("/metrics", prometheus)
    if email is not None:
        email.add_routes(app)  # the pages behind emails' links (samtal/mail.py)
    return app


class WebServer:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        host: str,
        port: int,
        *,
        health: Health | None = None,
        metrics: Metrics | None = None,
        email: EmailPages | None = None,
    ) -> None:
        self.runner = web.AppRunner(
            build_app(uow_factory, clock, health, metrics, email), access_log=None
        )
        self.host = host
        self.port = port

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        if self.port == 0:  # any free port (tests): say which
            self.port = int(self.runner.addresses[0][1])
        log.info(
            "web server at http://%s:%s (/healthz, /metrics, /calendar/<org>.ics)",
            self.host,
            self.port,
        )

    async def stop(self) -> None:
        await self.runner.cleanup()
