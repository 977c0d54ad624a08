"""Hold thousands of idle WebSocket pages in a separate process, so they never slow the probe.

The parent sends commands over a pipe: the crowd connects ``count`` pages to one
payment, answers their pings while idle, and on ``"fanout"`` reports when the
last page received the payment's next ``payment_status``.
"""

import asyncio
import multiprocessing
import time
from multiprocessing.connection import Connection

import aiohttp

from .clients import PageRefused, WebSocketPage, confirm

#: Below eventlet's listen backlog (50): a dropped SYN would cost a 1 s retransmission.
CONNECT_CONCURRENCY = 40


async def _hold(conn: Connection, base: str, payment_id: str, count: int, timeout: float) -> None:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        pages: list[WebSocketPage] = []
        waiting: list[asyncio.Task] = []
        failures: list[str] = []

        async def join() -> None:
            async with gate:
                page = WebSocketPage(session, base, payment_id)
                try:
                    await asyncio.wait_for(page.connect(), timeout)
                    # read at once: an unread page would miss its pings and be dropped
                    waiting.append(asyncio.create_task(page.next_event()))
                    pages.append(page)
                except (PageRefused, TimeoutError, aiohttp.ClientError, OSError) as exc:
                    failures.append(repr(exc)[:200])

        started = time.monotonic()
        await asyncio.gather(*(join() for _ in range(count)))
        connect_seconds = time.monotonic() - started
        conn.send({"connected": len(pages), "failed": len(failures),
                   "first_failure": failures[0] if failures else None,
                   "connect_seconds": connect_seconds})
        loop = asyncio.get_running_loop()
        command = await loop.run_in_executor(None, conn.recv)
        if command == "fanout" and waiting:
            done, still = await asyncio.wait(waiting, timeout=timeout)
            arrivals = [task.result()[0] for task in done if task.exception() is None]
            conn.send({"received": len(arrivals), "last": max(arrivals) if arrivals else None})
        for task in waiting:
            task.cancel()
        await asyncio.gather(*(page.close() for page in pages), return_exceptions=True)


def _main(conn: Connection, base: str, payment_id: str, count: int, timeout: float) -> None:
    asyncio.run(_hold(conn, base, payment_id, count, timeout))


class Crowd:
    """``count`` pages on ``payment_id``, held by a child process."""

    def __init__(self, base: str, payment_id: str, count: int, timeout: float = 120):
        context = multiprocessing.get_context("spawn")
        self.parent, child = context.Pipe()
        self.timeout = timeout
        self.process = context.Process(
            target=_main, args=(child, base, payment_id, count, timeout), daemon=True
        )

    def start(self) -> dict:
        """Connect the pages; return how many connected and how long it took."""
        self.process.start()
        if not self.parent.poll(self.timeout * 2):
            raise RuntimeError("the crowd did not report within its timeout")
        return self.parent.recv()

    async def fanout(self, base: str, payment: dict) -> dict:
        """Confirm the crowd's ``payment``; return how many pages heard it, the last when (ms)."""
        self.parent.send("fanout")
        await asyncio.sleep(0.2)  # the crowd's pages are all waiting again
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            started = time.monotonic()
            await confirm(http, base, payment)
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, self.parent.poll, self.timeout + 10)
        fan = self.parent.recv() if ready else {"received": 0, "last": None}
        return {"fanout_received": fan["received"],
                "fanout_ms": round((fan["last"] - started) * 1000, 1) if fan["last"] else None}

    def stop(self) -> None:
        """Close the pages and end the process."""
        if self.process.is_alive():
            try:
                self.parent.send("stop")
            except OSError:
                pass
            self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
