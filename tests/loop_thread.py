"""An asyncio server on its own loop in a daemon thread, whose connection handlers end on that loop."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextmanager
def serve_in_thread(handler: Handler, tls: ssl.SSLContext | None = None, backlog: int = 100) -> Iterator[int]:
    """Listen on a free loopback port (yielded) until the block ends; then cancel every task of the loop and await it.

    A handler waiting on nothing but its own future is referenced by no one: the collector could finalize it
    from whichever thread happens to run, closing its connection off the server's loop and racing the loop's
    own bookkeeping. Held here, each handler lives until the block ends and is cancelled on its loop.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    handlers: set[asyncio.Task[object]] = set()

    async def held(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        await handler(reader, writer)

    async def start() -> asyncio.Server:
        return await asyncio.start_server(held, "127.0.0.1", 0, ssl=tls, backlog=backlog)

    async def stop() -> None:
        listening.close()
        others = handlers | {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    listening = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
