"""uvicorn's sans-I/O WebSocket protocol, keeping less for each idle connection.

Once the ASGI scope is built the parsed handshake request (every request header, as websockets
``Headers``) is no longer needed, nor the handshake response once it is sent; uvicorn keeps both for
the life of the connection. With thousands of idle clients that is a few KB each (BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.request = None  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete:
            self.response = None  # type: ignore[assignment]
