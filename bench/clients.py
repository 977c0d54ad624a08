"""Light asyncio clients of the app: HTTP calls, Engine.IO v4 / Socket.IO v5 pages, SSE pages.

A page here speaks the wire protocol directly (no python-socketio client), so
one process can hold thousands of them: handshake, ``40{"payment_id": ...}``,
answer pings ``2`` with ``3``, and report each ``payment_status`` event with the
``time.monotonic()`` at which it arrived (comparable across processes on Linux).
"""

import asyncio
import json
import time
from collections.abc import Callable

import aiohttp

EVENT = "payment_status"
RECORD_SEPARATOR = "\x1e"  # Engine.IO v4 joins polling packets with it


class PageRefused(RuntimeError):
    """The server refused the Socket.IO connection or broke the protocol."""


async def create_payment(session: aiohttp.ClientSession, base: str, value: str = "150.50") -> dict:
    """Create a charge and return its payment object."""
    async with session.post(f"{base}/payments/pix", json={"value": value}) as resp:
        body = await resp.json()
        if resp.status != 201:
            raise RuntimeError(f"create answered {resp.status}: {body}")
        return body["payment"]


async def confirm(session: aiohttp.ClientSession, base: str, payment: dict) -> int:
    """Post the bank's approval of ``payment``; return the HTTP status."""
    notice = {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]}
    async with session.post(f"{base}/payments/pix/confirmation", json=notice) as resp:
        await resp.read()
        return resp.status


def _event(packet: str) -> dict | None:
    """Return the payment object of a ``42["payment_status", {...}]`` packet, else None."""
    if not packet.startswith("42"):
        return None
    name, *args = json.loads(packet[2:])
    return args[0] if name == EVENT and args else None


class WebSocketPage:
    """A page connected over the WebSocket transport."""

    def __init__(self, session: aiohttp.ClientSession, base: str, payment_id: str):
        self.session = session
        self.url = base.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.payment_id = payment_id
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> dict:
        """Open the connection, join the payment and return the first ``payment_status``."""
        self.ws = await self.session.ws_connect(self.url, autoping=True, max_msg_size=0)
        opening = await self.ws.receive_str()
        if not opening.startswith("0"):
            raise PageRefused(f"expected an Engine.IO open packet, got {opening[:80]!r}")
        await self.ws.send_str("40" + json.dumps({"payment_id": self.payment_id}))
        while True:
            packet = await self._packet()
            if packet.startswith("44"):
                raise PageRefused(packet)
            if packet.startswith("40"):
                continue
            event = _event(packet)
            if event is not None:
                return event

    async def _packet(self) -> str:
        """Return the next packet that is not a ping (pings are answered here)."""
        assert self.ws is not None
        while True:
            msg = await self.ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise PageRefused(f"connection ended: {msg.type!r}")
            if msg.data == "2":
                await self.ws.send_str("3")
                continue
            return msg.data

    async def next_event(self) -> tuple[float, dict]:
        """Wait for the next ``payment_status``; return (arrival monotonic time, payment)."""
        while True:
            packet = await self._packet()
            event = _event(packet)
            if event is not None:
                return time.monotonic(), event

    async def close(self) -> None:
        """Close the connection."""
        if self.ws is not None:
            await self.ws.close()


class PollingPage:
    """A page connected over the Engine.IO long-polling transport (no WebSocket)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, payment_id: str):
        self.session = session
        self.base = base + "/socket.io/?EIO=4&transport=polling"
        self.payment_id = payment_id
        self.url = ""
        self.pending: list[str] = []

    async def _get(self) -> list[str]:
        async with self.session.get(self.url) as resp:
            return (await resp.text()).split(RECORD_SEPARATOR)

    async def _post(self, packet: str) -> None:
        async with self.session.post(self.url, data=packet.encode()) as resp:
            await resp.read()
            if resp.status != 200:
                raise PageRefused(f"polling POST answered {resp.status}")

    async def connect(self) -> dict:
        """Handshake, join the payment and return the first ``payment_status``."""
        async with self.session.get(self.base) as resp:
            opening = await resp.text()
        if not opening.startswith("0"):
            raise PageRefused(f"expected an Engine.IO open packet, got {opening[:80]!r}")
        self.url = f"{self.base}&sid={json.loads(opening[1:])['sid']}"
        await self._post("40" + json.dumps({"payment_id": self.payment_id}))
        _, event = await self.next_event()
        return event

    async def next_event(self) -> tuple[float, dict]:
        """Long-poll until the next ``payment_status``; return (arrival time, payment)."""
        while True:
            while self.pending:
                packet = self.pending.pop(0)
                if packet.startswith("44"):
                    raise PageRefused(packet)
                if packet == "2":
                    await self._post("3")
                    continue
                event = _event(packet)
                if event is not None:
                    return time.monotonic(), event
            self.pending = await self._get()

    async def close(self) -> None:
        """Tell the server the page is gone."""
        if self.url:
            try:
                await self._post("1")
            except (aiohttp.ClientError, PageRefused):
                pass


class SsePage:
    """A page reading ``GET /payments/pix/<id>/events`` (Server-Sent Events)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, payment_id: str):
        self.session = session
        self.url = f"{base}/payments/pix/{payment_id}/events"
        self.resp: aiohttp.ClientResponse | None = None

    async def connect(self) -> dict:
        """Open the stream and return its first event (the current state)."""
        self.resp = await self.session.get(self.url, timeout=aiohttp.ClientTimeout(total=None))
        if self.resp.status != 200:
            raise PageRefused(f"events answered {self.resp.status}")
        _, event = await self.next_event()
        return event

    async def next_event(self) -> tuple[float, dict]:
        """Read events until a ``payment_status`` one; return (arrival time, payment)."""
        assert self.resp is not None
        name, data = "message", []
        while True:
            raw = await self.resp.content.readline()
            if not raw:
                raise PageRefused("the event stream ended")
            line = raw.decode().rstrip("\r\n")
            if line:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    name = value
                elif field == "data":
                    data.append(value)
                continue
            if name == EVENT and data:
                return time.monotonic(), json.loads("\n".join(data))
            name, data = "message", []

    async def close(self) -> None:
        """Close the stream."""
        if self.resp is not None:
            self.resp.close()


TRANSPORTS: dict[str, Callable[..., WebSocketPage | PollingPage | SsePage]] = {
    "websocket": WebSocketPage,
    "polling": PollingPage,
    "sse": SsePage,
}


async def sse_available(session: aiohttp.ClientSession, base: str, payment_id: str) -> bool:
    """Tell whether the server has the SSE route (it lands in another branch)."""
    page = SsePage(session, base, payment_id)
    try:
        await asyncio.wait_for(page.connect(), 10)
        return True
    except (PageRefused, TimeoutError, aiohttp.ClientError):
        return False
    finally:
        await page.close()
