"""Serve the simulated bench's VISA instruments on TCP sockets.

A station configured for hardware (``TCPIP::127.0.0.1::PORT::SOCKET`` addresses, the
pyvisa-py backend) then talks to the simulated instruments exactly as it would to a
LAN-connected source meter or a radiometer behind a serial-to-ethernet bridge, without
importing anything of the simulation itself.
"""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sim_instruments.bench import SimulatedBench


class InstrumentServer:
    """One pyvisa-sim device behind a listening socket (one client at a time)."""

    def __init__(self, device, query_eom: bytes | None) -> None:
        """``query_eom`` None: the device frames its own input (bytes are passed on as
        they arrive, as on a serial line)."""
        self.device = device
        self.eom = query_eom
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self._stop:
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            with connection:
                self._talk(connection)

    def _talk(self, connection: socket.socket) -> None:
        pending = b""
        connection.settimeout(0.2)
        while not self._stop:
            try:
                data = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            pending += data
            messages = []
            if self.eom is None:
                messages, pending = [pending], b""
            while self.eom is not None and self.eom in pending:
                message, pending = pending.split(self.eom, 1)
                messages.append(message + self.eom)
            for message in messages:
                with self.lock:
                    self.device.write(message)
                    reply = bytearray()
                    while True:
                        byte, _ = self.device.read()
                        if not byte:
                            break
                        reply += byte
                if reply:
                    connection.sendall(bytes(reply))

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.listener.close()


@contextmanager
def served_bench(preset: str = "deep-red-cspbi3-fret", **bench_options) -> Iterator[tuple[SimulatedBench, int, int]]:
    """(bench, source-meter port, radiometer port); ``bench_options`` go to the bench
    (default: no latency)."""
    bench = SimulatedBench(preset, **{"latency": False, **bench_options})
    library = bench.visa_library
    smu = InstrumentServer(library.devices[bench.smu_address], b"\n")
    radiometer = InstrumentServer(library.devices[bench.radiometer_address], None)
    try:
        yield bench, smu.port, radiometer.port
    finally:
        smu.close()
        radiometer.close()
        bench.close()


def hardware_config(directory: Path, smu_port: int, radiometer_port: int, extra: str = "") -> Path:
    """A station configuration for the served instruments, as for hardware (pyvisa-py)."""
    config = directory / "station.toml"
    config.write_text(textwrap.dedent(f"""
        [smu]
        address = "TCPIP::127.0.0.1::{smu_port}::SOCKET"
        visa_library = "@py"
        [light]
        geometry = "radiometer"
        [radiometer]
        address = "TCPIP::127.0.0.1::{radiometer_port}::SOCKET"
        timeout_s = 10
    """) + extra)
    return config
