"""Soak test: many reconnecting wskit clients against a server that injects faults.

``python -m tools.soak`` starts :mod:`tools.soak.server` in a separate process,
runs clients of every backend against it for a few minutes, then floods a few
slow readers, and checks that:

- every echo comes back intact, once, in order (no corruption, duplication or
  reordering), on every connection;
- on a connection whose close handshake completed, nothing went missing: the
  client saw every echo the server says it sent (zero lost);
- the client process's memory stays bounded, also under flood, and no thread or
  file descriptor outlives the clients.

Messages in flight when a fault cut a connection are counted as unconfirmed, not
lost: the connection broke before anybody could tell whether they arrived.
"""

from __future__ import annotations

__all__: list[str] = []
