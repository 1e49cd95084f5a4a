"""Following runs live: a subscriber to the documents runs publish on the LECO data protocol
(:mod:`station.sinks.leco_publisher`), for a window or a script on any PC."""

from __future__ import annotations

import json
from typing import Any

import numpy as np


class LiveDocuments:
    """Documents of the runs whose topics are given (``<agent>-<channel>``), from the data proxy
    at ``host:port`` (the publishers' port; subscribers connect to ``port - 1``)."""

    def __init__(self, topics: list[str], host: str = "localhost", port: int = 11100) -> None:
        import zmq

        self._context = zmq.Context.instance()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.connect(f"tcp://{host}:{port - 1}")
        for topic in topics:
            self._socket.subscribe(topic.encode())
        self._pending: list[tuple[str, dict[str, Any]]] = []

    def receive(self, timeout_s: float) -> tuple[str, dict[str, Any]] | None:
        """(topic, document), or None when nothing came within ``timeout_s`` (a message holds the
        documents of a batch: they are handed out one by one, in order)."""
        if not self._pending:
            self._read(timeout_s)
        return self._pending.pop(0) if self._pending else None

    def _read(self, timeout_s: float) -> None:
        from pyleco.core.data_message import DataMessage

        if not self._socket.poll(int(timeout_s * 1000)):
            return
        message = DataMessage.from_frames(*self._socket.recv_multipart())
        topic = message.topic.decode()
        for document in json.loads(message.payload[0]):
            for name, array in (document.get("spectrum") or {}).items():  # binary frames after the JSON
                if isinstance(array, dict) and "frame" in array:
                    data = message.payload[array["frame"]]
                    document["spectrum"][name] = np.frombuffer(data, dtype=np.dtype(array["dtype"])).reshape(
                        array["shape"])
            self._pending.append((topic, document))

    def close(self) -> None:
        self._socket.close(0)

    def __enter__(self) -> LiveDocuments:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
