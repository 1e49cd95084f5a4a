"""A sink that publishes the run's documents (:mod:`station.run.documents`) on the LECO data
protocol (pyleco's ``DataPublisher``), under the run's topic (``<agent>-<channel>``).

It is not essential: the runner feeds it through a bounded queue on its own thread, and a
ZeroMQ publisher drops what no subscriber takes in time, so a slow, absent or vanished
subscriber never slows the run. What it does per point is kept small, because its thread
shares the interpreter with the measurement (``benchmarks/bench_publish.py``): the records of
one batch of the queue go as one message whose JSON is the list of their documents; an event is
encoded with msgspec (a value that is not finite as "nan", "inf" or "-inf", as the documents
have it) and its
spectra travel as binary frames after the JSON (``{"dtype", "shape", "frame"}`` in the
document: frame 1, 2 ...), not as base64, and at most :data:`LIVE_SPECTRA_PER_S` a second
per stream (a live plot draws a few a second; moving every spectrum of a fast sweep across the
network cost the run about 10 % per point). An event sent without its spectrum says so
(``"spectrum_in_file": true``); every spectrum is in the file. The other documents are the documents' own JSON.
The file stays the record: a subscriber that missed documents refills from the agent, which
reads the file on its own disk (``StationAgent.rows``).
"""

from __future__ import annotations

import math
import time
from typing import Any

import msgspec
import numpy as np

from station.run.documents import documents_of, number
from station.run.records import Event, Record

#: pyleco's default data-proxy receiving port (pyleco.core.PROXY_RECEIVING_PORT)
DATA_PORT = 11100
#: spectra published live per second and stream, at most (the scalars of every event go)
LIVE_SPECTRA_PER_S = 4.0


class LecoPublisherSink:
    """Documents published under ``topic`` to the data proxy at ``host:port``: one LECO data
    message per batch the runner's queue hands over (``deliver_batch``), its JSON a list of
    documents, the spectra in binary frames after it."""

    essential = False

    def __init__(self, topic: str, host: str = "localhost", port: int = DATA_PORT) -> None:
        from pyleco.core.data_message import DataMessage
        from pyleco.core.message import MessageTypes
        from pyleco.utils.data_publisher import DataPublisher

        self.topic = topic
        self._publisher = DataPublisher(full_name=topic, host=host, port=port)
        # one conversation per run's feed: the header of every message (LECO data protocol framing)
        self._header = DataMessage(topic, data=b"", message_type=MessageTypes.JSON).header
        self._encode = msgspec.json.Encoder(enc_hook=_plain).encode
        self._last_spectrum_s: dict[str, float] = {}
        self.published = 0

    def __call__(self, record: Record) -> None:
        self.deliver_batch([record])

    def deliver_batch(self, records: list[Record]) -> None:
        documents: list[dict[str, Any]] = []
        frames: list[bytes | memoryview] = []
        for record in records:
            if isinstance(record, Event):
                documents.append(self._event(record, frames))
            else:
                documents.extend(documents_of(record))
        self._publisher.socket.send_multipart([self.topic.encode(), self._header, self._encode(documents), *frames])
        self.published += len(documents)

    def _event(self, record: Event, frames: list[bytes | memoryview]) -> dict[str, Any]:
        values = {k: v if math.isfinite(v) else number(v) for k, v in record.values.items()}  # "nan", "inf"
        document: dict[str, Any] = {"kind": "event", "stream": record.stream, "index": record.index,
                                    "values": values}
        if record.spectrum is None:
            return document
        now = time.monotonic()
        if now - self._last_spectrum_s.get(record.stream, -1e9) < 1.0 / LIVE_SPECTRA_PER_S:
            document["spectrum_in_file"] = True
            return document
        self._last_spectrum_s[record.stream] = now
        document["spectrum"] = {}
        for name in ("spectral", "raw"):
            array = np.ascontiguousarray(getattr(record.spectrum, name))
            frames.append(memoryview(array).cast("B"))
            document["spectrum"][name] = {"dtype": array.dtype.str, "shape": list(array.shape), "frame": len(frames)}
        return document

    def close(self) -> None:
        self._publisher.close()

    def __enter__(self) -> LecoPublisherSink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (msgspec's hook for what it does not know)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot publish {type(value).__name__}")
