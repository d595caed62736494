"""python-telegram-bot's requests on aiohttp's client instead of httpx.

python-telegram-bot sends every Bot API call through a `telegram.request.BaseRequest`; its
own is `HTTPXRequest`. A profile of `samtal run` found httpx and httpcore to be over half of
a reply's CPU: httpcore scans every connection of its pool (256 by default) on each request
and builds its request and response objects in pure Python. aiohttp, which the webhook
already loads, takes a kept-alive connection from its pool in constant time and parses
responses in C. Everything above the HTTP layer stays python-telegram-bot's own: which
status becomes which error (`RetryAfter`, `Forbidden`, `BadRequest`, `ChatMigrated`, ...),
the JSON answer, the Bot methods.

What it does as `HTTPXRequest` does, and where it differs:

- Parameters go as one JSON body (the Bot API takes `application/json` for every method
  except uploads) rather than form fields each encoded on its own; a request with files
  goes as `multipart/form-data`, the parameters as form fields next to the files.
- Timeouts: `connect_timeout` bounds establishing a connection, `pool_timeout` plus that
  waiting for a free one, `read_timeout` each wait for the answer's next bytes. aiohttp
  has no timeout for writing alone, so a request's whole round trip is bounded by the sum
  of the four (with `media_write_timeout` as the write part when it uploads files), which
  is never shorter than `HTTPXRequest` allows a request that keeps moving.
- A timeout raises `telegram.error.TimedOut`, any other failure to talk to the server
  `telegram.error.NetworkError`, as `HTTPXRequest` does.
- Proxies come from the environment (`HTTPS_PROXY`, `NO_PROXY`, ...), read when the session
  opens, as httpx reads them when its client is made. (aiohttp's own `trust_env` would ask
  the environment and ~/.netrc again in a thread for every request: two thread hops, a
  tenth of a send's CPU.)
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

JSON_HEADERS = {"Content-Type": "application/json"}


def _given(value: object, default: float | None) -> float | None:
    """A timeout given for this call, or the default where it was not (`DEFAULT_NONE`)."""
    if value is BaseRequest.DEFAULT_NONE:
        return default
    assert value is None or isinstance(value, int | float)
    return value


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession`, made in `initialize` (on the loop
    that uses it) and closed in `shutdown`; `initialize` after `shutdown` opens a new one."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        """The same parameters and defaults as python-telegram-bot's `HTTPXRequest`."""
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # (scheme, host) -> the proxy from the environment and its credentials, if any.
        self._proxies: dict[tuple[str, str], tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        return self._pool_size

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )
            self._proxies.clear()

    def _proxy(self, url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        """The environment's proxy for the URL's scheme and host, found once for each."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        found = self._proxies.get(key)
        if found is None:
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy is None or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
                found = (None, None)
            else:
                address = URL(proxy if "://" in proxy else f"http://{proxy}")
                found = (address.with_user(None), aiohttp.BasicAuth.from_url(address))
            self._proxies[key] = found
        return found

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = _given(read_timeout, self._read_timeout)
        write = _given(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _given(connect_timeout, self._connect_timeout)
        pool = _given(pool_timeout, self._pool_timeout)
        parts = (read, write, connect, pool)
        timeout = aiohttp.ClientTimeout(
            total=sum(p for p in parts if p is not None) if None not in parts else None,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        body: Any = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if files:
                body = aiohttp.FormData(quote_fields=False)
                for name, value in request_data.json_parameters.items():
                    body.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    body.add_field(name, content, filename=filename, content_type=mimetype)
            else:
                body = json.dumps(request_data.parameters, separators=(",", ":")).encode()
                headers = JSON_HEADERS
        proxy, proxy_auth = self._proxy(url)
        try:
            async with session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            if isinstance(exc, aiohttp.ConnectionTimeoutError):
                raise TimedOut(
                    "Timed out waiting for a free connection or connecting; "
                    "the request was *not* sent to Telegram"
                ) from exc
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
