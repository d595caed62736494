"""The bot's small web server: calendar feeds for subscription in calendar apps.

`GET /calendar/<org>.ics` serves the same iCalendar as `samtal calendar --org
<org>`: the organisation's open meetings and its annual wheel, for anyone.
`GET /calendar/me/<token>.ics` serves one member's own feed (bot/feeds), members-only
meetings included, to whoever holds the secret token that `/kalender` gave them.
It is off unless `[web] enabled = true`; it listens on 127.0.0.1:8080 by default,
meant to sit behind a reverse proxy that adds TLS (`[web] public_url`).
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from bot.clock import Clock
from bot.context import Effects
from bot.feeds.service import person_for, personal_calendar
from bot.ports import UnitOfWorkFactory
from bot.render.wheel_calendar import organisation_calendar

log = logging.getLogger(__name__)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def build_app(uow_factory: UnitOfWorkFactory, clock: Clock) -> web.Application:
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

    app = web.Application()
    app.router.add_get("/calendar/me/{token}.ics", personal)
    app.router.add_get("/calendar/{slug}.ics", calendar)
    return app


class WebServer:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, host: str, port: int) -> None:
        self.runner = web.AppRunner(build_app(uow_factory, clock), access_log=None)
        self.host = host
        self.port = port

    async def start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        log.info("calendar feeds at http://%s:%s/calendar/<org>.ics", self.host, self.port)

    async def stop(self) -> None:
        await self.runner.cleanup()
