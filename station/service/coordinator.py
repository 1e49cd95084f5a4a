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


#: how often the links to other PCs' coordinators are checked (and made again when lost)
LINK_CHECK_S = 2.0


def serve_coordinator(host: str = LOOPBACK, port: int = 12300, namespace: str = "",
                      stop: threading.Event | None = None, coordinators: list[str] | None = None) -> None:
    """Route messages until ``stop`` (``coordinators``: other PCs' coordinators, host:port, whose
    links are kept: pyleco does not make a link again once the other side restarted)."""
    stop = stop or threading.Event()
    if coordinators:
        threading.Thread(target=keep_links, args=(host, port, list(coordinators), stop), name="leco-link-keeper",
                         daemon=True).start()
    with coordinator(host, port, namespace) as node:
        node.routing(coordinators=coordinators, stop_event=stop)


def keep_links(host: str, port: int, links: list[str], stop: threading.Event) -> None:
    """Every :data:`LINK_CHECK_S`, ask this coordinator which coordinators it is linked to, and
    link again to any of ``links`` it lost (through its own ``add_nodes``, run on its routing
    thread: a coordinator is not thread-safe)."""
    import logging

    from pyleco.utils.communicator import Communicator

    log = logging.getLogger(__name__)
    from .protocol import COORDINATOR_PORT

    wanted = [link if ":" in link else f"{link}:{COORDINATOR_PORT}" for link in links]
    communicator = None
    while not stop.wait(LINK_CHECK_S):
        try:
            if communicator is None:
                own = "localhost" if host in (LOOPBACK, "0.0.0.0") else host
                communicator = Communicator(name=f"link-keeper-{port}", host=own, port=port, timeout=1)
            known = communicator.ask_rpc("COORDINATOR", "send_nodes", timeout=1) or {}
            addresses = {str(address) for address in known.values()}
            for link in wanted:
                if not any(_same_address(a, link) for a in addresses):
                    log.info("linking again to the coordinator at %s", link)
                    communicator.ask_rpc("COORDINATOR", "add_nodes", nodes={"": link}, timeout=1)
        except Exception as exc:  # noqa: BLE001 - the coordinator busy or restarting: next time
            log.debug("link check: %s", exc)
            if communicator is not None:
                communicator.close()
                communicator = None
    if communicator is not None:
        communicator.close()


def _same_address(a: str, b: str) -> bool:
    """host:port ``a`` and ``b`` are one coordinator (localhost and 127.0.0.1 are one host)."""
    loopback = {"localhost", "127.0.0.1"}
    (ha, pa), (hb, pb) = a.rsplit(":", 1), b.rsplit(":", 1)
    return pa == pb and (ha == hb or (ha in loopback and hb in loopback))


def listening(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Something accepts TCP connections at ``host:port``."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1" if host in ("localhost", "0.0.0.0") else host, port), timeout_s):
            return True
    except OSError:
        return False


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
