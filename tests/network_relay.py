"""A TCP relay between two "PCs" on one machine that can be cut: a network partition.

Clients connect to the relay's port and it forwards to ``target``. :meth:`Relay.cut` stops
forwarding in both directions while keeping every connection open and unread, as a pulled
cable or a dead switch does: the senders' kernels buffer, then their writes stall, and the
peers see silence, not a reset. :meth:`Relay.heal` lets the held bytes through again (TCP
delivers what it buffered), as when the cable is back. Works without root or network
namespaces, on every system.
"""

from __future__ import annotations

import selectors
import socket
import threading

CHUNK = 65536


class Relay:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:target`` until :meth:`close`."""

    def __init__(self, target: int, port: int = 0) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name=f"relay-{self.port}", daemon=True).start()

    def cut(self) -> None:
        """The partition: nothing passes (connections stay open, unread)."""
        self.flowing.clear()

    def heal(self, reset: bool = False) -> None:
        """The cable back. ``reset``: the connections held across the cut are closed first, as
        when a partition outlasts TCP's retransmissions: what was in flight is lost, and the
        peers connect again."""
        if reset:
            with self._lock:
                held, self._sockets = self._sockets, []
            for s in held:
                try:
                    s.close()
                except OSError:
                    pass
        self.flowing.set()

    def close(self) -> None:
        self._closed.set()
        self.flowing.set()
        self.listener.close()
        with self._lock:
            for s in self._sockets:
                try:
                    s.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        """Both directions of one connection, on one thread; waits (reads nothing) while cut."""
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while not self._closed.is_set():
                if not self.flowing.wait(0.2):
                    continue
                for key, _ in selector.select(0.2):
                    data = key.fileobj.recv(CHUNK)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            selector.close()
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
