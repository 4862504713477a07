"""WebSocket pass-through: the client's socket and the upstream's, pumped both ways."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict

# The handshake headers belong to each hop; aiohttp builds its own for the upstream.
_HANDSHAKE = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "content-length",
    }
)


async def relay_websocket(
    request: web.Request,
    session: aiohttp.ClientSession,
    url: str,
    headers: CIMultiDict[str],
    timeout: float,
) -> web.WebSocketResponse:
    """Connect to the upstream first (so a refusal is a 502), then accept the client."""
    protocols = [
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    ]
    forwarded = CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in _HANDSHAKE)
    try:
        upstream = await session.ws_connect(
            url,
            headers=forwarded,
            protocols=protocols,
            autoping=False,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout),
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise web.HTTPBadGateway(text=f"websocket upstream failed: {exc}\n") from None
    client = web.WebSocketResponse(
        protocols=[upstream.protocol] if upstream.protocol else (), autoping=False
    )
    await client.prepare(request)

    async def pump(
        source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        async for message in source:
            if message.type is WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type is WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type is WSMsgType.PING:
                await sink.ping(message.data)
            elif message.type is WSMsgType.PONG:
                await sink.pong(message.data)
        await sink.close(code=source.close_code or aiohttp.WSCloseCode.OK)

    async with upstream:
        tasks = [
            asyncio.create_task(pump(client, upstream)),
            asyncio.create_task(pump(upstream, client)),
        ]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()
    return client
