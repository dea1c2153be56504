"""uvicorn's sans-I/O WebSocket protocol, keeping less for each idle connection and writing event frames
straight to the socket.

Once the ASGI scope is built the parsed handshake request (every request header, as websockets
``Headers``) is no longer needed, nor the handshake response once it is sent; uvicorn keeps both for
the life of the connection. With thousands of idle clients that is a few KB each (BENCHMARKS.md).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        self.request = None  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete:
            self.response = None  # type: ignore[assignment]

    def send_texts_now(self, frames: list[bytes]) -> bool:
        """Write these text frames at once, in one write, from the event loop, when that is exactly what ``send`` would do:
        the connection open and accepted, no close sent, the transport not paused by flow control and no
        extension negotiated (the frame is then the bare RFC 6455 server frame: FIN + text opcode, the
        length, the unmasked payload). False means: take ``send``, which waits for flow control.

        A live event reaches 50 sockets per group message; through ``send`` each costs an awaited
        coroutine chain (Starlette, uvicorn, websockets' frame object) that cost more than the rest
        of the delivery.
        """
        if (self.disconnected or self.close_sent or not self.handshake_complete or self.initial_response
                is not None or not self.writable.is_set() or self.conn.state is not State.OPEN
                or self.conn.extensions or self.conn.expect_continuation_frame or self.transport.is_closing()):
            return False
        out = []
        for data in frames:
            n = len(data)
            if n < 126:
                out.append(bytes((0x81, n)))
            elif n < 65536:
                out.append(bytes((0x81, 126)) + n.to_bytes(2, "big"))
            else:
                out.append(bytes((0x81, 127)) + n.to_bytes(8, "big"))
            out.append(data)
        self.transport.write(b"".join(out))
        return True
