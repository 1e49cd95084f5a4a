"""Following one channel's run from any moment: what a window attaching (or re-attaching)
mid-run needs, without opening the file over a network.

:class:`ChannelFollower` gives records (:mod:`station.run.records`): first the run's start,
rebuilt by the agent from the file on its own disk, then every row stored so far (the refill,
in pages of the agent's ``rows``), then the live documents the run publishes, skipping what the
refill already gave. Any viewer that takes records (the window's live data, a notebook plot)
draws from it as it draws from a run in its own process.
"""

from __future__ import annotations

import time
from typing import Any

from station.run.documents import RecordDecoder, encode_array
from station.run.records import Record, RunStart

from .client import AgentClient
from .live import LiveDocuments

#: rows asked for in one refill request
PAGE_ROWS = 5000
#: how long a gap between the file and the live feed is waited for (the file's durability
#: interval, at most a few seconds, keeps the file behind the feed)
GAP_WAIT_S = 10.0
#: live feed silent this long: the file is asked for what the feed may have lost (a partition
#: that outlasted the connection; a run that ended while nothing could reach the viewer)
QUIET_CATCH_UP_S = 5.0


class ChannelFollower:
    """Records of the run on ``channel`` of the agent ``client`` talks to."""

    def __init__(self, client: AgentClient, channel: str, live: LiveDocuments) -> None:
        self.client = client
        self.channel = channel
        self.live = live
        self._decoder = RecordDecoder()
        self._seen: dict[str, int] = {}  # stream -> rows given
        self.start: RunStart | None = None
        #: rows read from the file because the live feed missed them (joined late, a partition)
        self.caught_up_rows = 0
        #: the run's stop was given (live, or from the file)
        self.stopped = False
        self._heard = time.monotonic()

    @property
    def run_id(self) -> str:
        """The followed run's id (the agent's, which its file and documents carry)."""
        return self.start.run_id if self.start is not None else ""

    def attach(self) -> list[Record]:
        """The start and every row stored so far (the live documents from then on: :meth:`poll`)."""
        documents = self.client.call("start_documents", channel=self.channel)
        self._decoder, self._seen, self.stopped = RecordDecoder(), {}, False  # a follower follows run after run
        records: list[Record] = []
        for document in documents:
            records.extend(self._decoder.feed(document))
        self.start = next((r for r in records if isinstance(r, RunStart)), None)
        if self.start is None:
            return records
        for stream in self.start.streams:
            records.extend(self._refill(stream.name))
        return records

    def _refill(self, stream: str, upto: int | None = None) -> list[Record]:
        records: list[Record] = []
        start = self._seen.get(stream, 0)
        while upto is None or start < upto:
            count = PAGE_ROWS if upto is None else min(PAGE_ROWS, upto - start)
            page = self.client.call("rows", channel=self.channel, run_id=self.run_id, stream=stream, start=start,
                                    count=count)
            columns: dict[str, list[Any]] = page["columns"]
            n = len(next(iter(columns.values()), []))
            for i in range(n):
                records.extend(self._decoder.feed({"kind": "event", "stream": stream, "index": start + i,
                                                   "values": {name: v[i] for name, v in columns.items()}}))
            start += n
            if n == 0 or start >= page["total"]:
                break
        self._seen[stream] = start
        return records

    def _fill_gap(self, stream: str, index: int) -> list[Record]:
        """Rows up to ``index`` that arrived live before this follower listened: read from the
        file, which may lag the live feed by its durability interval (asked again meanwhile)."""
        records: list[Record] = []
        deadline = time.monotonic() + GAP_WAIT_S
        while self._seen.get(stream, 0) < index and time.monotonic() < deadline:
            before = self._seen.get(stream, 0)
            records.extend(self._refill(stream, upto=index))
            self.caught_up_rows += self._seen.get(stream, 0) - before
            if self._seen.get(stream, 0) < index:
                time.sleep(0.1)
        return records

    def catch_up(self) -> list[Record]:
        """What the file holds beyond what was given: every stream's missing rows, then the
        run's stop once the file says it ended (a viewer cut off while the run went on, or
        ended). A StationError when the agent cannot be reached (try again later)."""
        if self.start is None or self.stopped:
            return []
        records: list[Record] = []
        before = sum(self._seen.values())
        for stream in self.start.streams:
            records.extend(self._refill(stream.name))
        self.caught_up_rows += sum(self._seen.values()) - before
        for document in self.client.call("stop_documents", channel=self.channel, run_id=self.run_id):
            records.extend(self._decoder.feed(document))
            self.stopped = True
        return records

    def poll(self, timeout_s: float) -> list[Record]:
        """Live records that came within ``timeout_s`` (rows the refill gave are skipped); after
        :data:`QUIET_CATCH_UP_S` of silence, what the file holds beyond them (:meth:`catch_up`)."""
        from station.core.errors import StationError

        records: list[Record] = []
        received = self.live.receive(timeout_s)
        if received is None and time.monotonic() - self._heard > QUIET_CATCH_UP_S:
            self._heard = time.monotonic()
            try:
                records.extend(self.catch_up())
            except StationError:
                pass  # unreachable still: asked again after the next silence
        while received is not None:
            self._heard = time.monotonic()
            _topic, document = received
            if document.get("kind") in ("start", "descriptor") and self.start is not None \
                    and document.get("run_id") == self.start.run_id:  # the run attach() already began
                received = self.live.receive(0)
                continue
            if document.get("kind") == "start":  # a new run on the channel: decode it from its own start
                self._decoder, self._seen, self.stopped = RecordDecoder(), {}, False
            elif document.get("kind") == "stop" and self.stopped:  # given from the file already
                received = self.live.receive(0)
                continue
            elif document.get("kind") == "stop":  # rows the feed lost before it come from the file first
                self.stopped = True
                for stream, rows in (document.get("events") or {}).items():
                    if isinstance(rows, int) and self.start is not None and self._seen.get(stream, 0) < rows:
                        records.extend(self._fill_gap(stream, rows))
            if document.get("kind") == "event":
                stream, index = document.get("stream", ""), document.get("index", 0)
                seen = self._seen.get(stream, 0)
                if index < seen:
                    received = self.live.receive(0)
                    continue
                if index > seen and self.start is not None:  # missed live (joined late): from the file
                    records.extend(self._fill_gap(stream, index))
                self._seen[stream] = index + 1
                if isinstance(document.get("spectrum"), dict):  # arrays from binary frames: as the documents have them
                    document = {**document, "spectrum": {name: encode_array(array)
                                                         for name, array in document["spectrum"].items()}}
            try:
                fed = list(self._decoder.feed(document))
            except Exception:  # noqa: BLE001 - a document the decoder cannot place (joined mid-run): skip it
                fed = []
            self.start = next((r for r in fed if isinstance(r, RunStart)), self.start)
            records.extend(fed)
            received = self.live.receive(0)
        return records
