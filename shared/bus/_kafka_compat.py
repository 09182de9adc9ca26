"""Import kafka-python once, working around two problems of kafka-python 3.0.12.

1. Import-time ``DeprecationWarning``: it loads its protocol JSON schemas with
   ``importlib.resources.read_text``, deprecated in Python 3.11; under pytest (warnings are errors)
   ``import kafka`` would fail. The warning concerns kafka-python's own resource loading, so it is
   silenced for that import only; later imports find the modules in ``sys.modules``.
2. A socket leak on every failed connection attempt: ``KafkaNetSocket.sock_connect`` raises
   ``KafkaConnectionError`` (ECONNREFUSED, timeout) without closing the socket it was given, so a
   client retrying against a broker that is down leaks one descriptor per attempt until the
   garbage collector finds it (with a ``ResourceWarning``). A producer that spools through an
   outage retries for as long as the outage lasts, so the socket is closed here on failure. The
   selector has already unregistered it (``_wait_io``'s guard runs first), so closing is safe.

Every module of secchain that uses kafka-python imports ``shared.bus`` (which imports this first).
"""

from __future__ import annotations

import socket
import warnings
from typing import Any

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=r"(read_text|open_text) is deprecated")
    import kafka  # noqa: F401
    import kafka.admin  # noqa: F401
    import kafka.consumer.fetcher  # noqa: F401
    from kafka.net.inet import KafkaNetSocket

_sock_connect = KafkaNetSocket.sock_connect


async def _sock_connect_closing(self: KafkaNetSocket, net: Any, sock: socket.socket, sockaddr: Any,
                                timeout_at: float | None = None) -> socket.socket:
    try:
        return await _sock_connect(self, net, sock, sockaddr, timeout_at=timeout_at)
    except BaseException:
        sock.close()
        raise


if not getattr(KafkaNetSocket.sock_connect, "_secchain_patched", False):
    _sock_connect_closing._secchain_patched = True  # type: ignore[attr-defined]
    KafkaNetSocket.sock_connect = _sock_connect_closing  # type: ignore[method-assign]
