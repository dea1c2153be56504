"""The HTTP and WebSocket edge: parse, authenticate through the gate, call services, render."""
