"""Live delivery: the WebSocket hub, resume and presence."""
