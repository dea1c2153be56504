"""The send path: one message from the route to the database and back (docs/subsystems/sending-messages.md,
docs/adr/0003-writer-process.md).

- ``request``: ``SendRequest`` (frozen: what the caller knows) and ``SendOutcome`` (returned by value);
- ``checks``: everything before the write, one send at a time (text, client_id, switches, rate, DLP);
- ``batch``: the batch writer (``write_batch``: one transaction, three round trips) and ``send`` (one
  send written in the calling thread: uploads, forwards, the demo);
- ``queue``: the group-commit ``SendQueue`` and the ``Writer`` interface, with ``ThreadWriter``;
- ``transport``: ``ProcessWriter`` (the same interface, written by a writer process) and that process;
- ``wire``: the versioned records the two processes exchange.

Layers (pyproject.toml): beside the services, under the edges. The use cases that send (uploads,
forwards, the demo) call ``batch.send``; the path's core uses the services' shared look-ups and no use
case that sends (``sendpath-below-senders``); the queue, the transport and the wire are the app's
wiring, which no service imports (``sendpath-queue-is-wiring``). The writer process's ``main`` builds
what it runs beside the writes (the DLP service that records hits, the archive's indexer).
"""
