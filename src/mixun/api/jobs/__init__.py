"""The serving process's background jobs, one module each, started and stopped by ``api.app``'s
lifespan:

* ``sweep``: every 20 s, in order: shared presence kept fresh, waiting files rescanned and the drive
  tidied (``files``), the bus's health noted, overdue fault reports escalated and new operations alerts
  sent (``operations``), the scheduled account review (``account_review``), and live connections of
  ended sessions closed (``sessions``);
* ``sessions.flush_touches``: the sessions' last-seen times written every few seconds;
* ``presence``: a person's presence change announced to their contacts (the hub's ``on_presence``).

The jobs hold no SQL: what they read or write is a service's (the layers contract says so).
"""
