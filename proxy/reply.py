"""How the request path answers a client, whichever server read the request.

The proxy's handler (proxy/handler.py) writes every answer through a `Reply`: a whole answer
at once (`send`), or a streamed one (`start`, `write`..., `finish`). `AiohttpReply` builds
aiohttp responses, for requests that came through aiohttp's server; the front server
(proxy/front.py) writes straight to the connection.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from aiohttp import web
from multidict import CIMultiDict

from proxy.errors import CONTENT_TYPE, error_body


def cookie_header(name: str, value: str, max_age: int) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, for the whole site."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["max-age"] = str(max_age)
    morsel["path"] = "/"
    morsel["httponly"] = True
    morsel["samesite"] = "Lax"
    return morsel.OutputString()


class Reply:
    """The answer to one request; `body=None` in `send` means an answer without a body
    (HEAD, 204, 304), whose Content-Length, if any, is in `headers`."""

    async def send(
        self, status: int, reason: str | None, headers: CIMultiDict[str], body: bytes | None
    ) -> None:
        raise NotImplementedError

    async def start(
        self, status: int, reason: str | None, headers: CIMultiDict[str], length: int | None
    ) -> None:
        raise NotImplementedError

    async def write(self, chunk: bytes) -> None:
        raise NotImplementedError

    async def finish(self) -> None:
        raise NotImplementedError

    async def error(
        self,
        status: int,
        code: str,
        detail: str,
        rid: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """The proxy's own JSON error answer (proxy/errors.py)."""
        headers = CIMultiDict({"Content-Type": CONTENT_TYPE})
        if rid:
            headers["X-Request-ID"] = rid
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        await self.send(status, None, headers, error_body(status, code, detail))


class AiohttpReply(Reply):
    """Answers as aiohttp responses; `response` is what the aiohttp handler returns."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response: web.StreamResponse | None = None

    async def send(
        self, status: int, reason: str | None, headers: CIMultiDict[str], body: bytes | None
    ) -> None:
        self.response = web.Response(status=status, reason=reason, headers=headers, body=body)

    async def start(
        self, status: int, reason: str | None, headers: CIMultiDict[str], length: int | None
    ) -> None:
        self.response = web.StreamResponse(status=status, reason=reason, headers=headers)
        if length is not None:
            self.response.content_length = length
        await self.response.prepare(self.request)

    async def write(self, chunk: bytes) -> None:
        assert self.response is not None, "start() first"
        await self.response.write(chunk)

    async def finish(self) -> None:
        assert self.response is not None, "start() first"
        await self.response.write_eof()
