"""A LECO coordinator for the station, listening on loopback unless told otherwise.

pyleco's coordinator binds every interface; released LECO has no authentication, so the
station's binds ``127.0.0.1`` unless the user names an interface (a rack on an isolated lab
network). Everything else is pyleco's own ``Coordinator``.
"""

from __future__ import annotations

import threading
from typing import Any

LOOPBACK = "127.0.0.1"


def coordinator(host: str = LOOPBACK, port: int = 12300, namespace: str = "", **kwargs: Any) -> Any:
    """pyleco's Coordinator bound to ``host`` only (its name on the network: ``namespace``)."""
    from pyleco.coordinators.coordinator import Coordinator
    from pyleco.utils.coordinator_utils import ZmqMultiSocket

    class BoundSocket(ZmqMultiSocket):
        def bind(self, host_: str = "*", port: int | str = port) -> None:  # noqa: ARG002 - ours decides
            self._sock.bind(f"tcp://{host}:{port}")

    return Coordinator(namespace=namespace or None, host=host if host != "0.0.0.0" else None, port=port,
                       multi_socket=BoundSocket(), **kwargs)


def serve_coordinator(host: str = LOOPBACK, port: int = 12300, namespace: str = "",
                      stop: threading.Event | None = None, coordinators: list[str] | None = None) -> None:
    """Route messages until ``stop`` (``coordinators``: other PCs' coordinators, host:port)."""
    with coordinator(host, port, namespace) as node:
        node.routing(coordinators=coordinators, stop_event=stop)


def start_data_proxy(host: str = LOOPBACK, port: int = 11100) -> Any:
    """LECO's data proxy (XSUB on ``port`` for publishers, XPUB on ``port - 1`` for
    subscribers, as pyleco's proxy server lays them out), bound to ``host`` only, on a daemon
    thread; returns its zmq context (``destroy()`` it to stop)."""
    import zmq

    context = zmq.Context()
    receiving, sending = context.socket(zmq.XSUB), context.socket(zmq.XPUB)
    receiving.bind(f"tcp://{host}:{port}")
    sending.bind(f"tcp://{host}:{port - 1}")

    def run() -> None:
        try:
            zmq.proxy(sending, receiving)
        except zmq.ZMQError:  # the context was destroyed (its sockets closed with it): the proxy ends
            pass

    threading.Thread(target=run, name="leco-data-proxy", daemon=True).start()
    return context
