"""Asking an agent over LECO: what the command line, a script or a window uses.

Every call is a JSON-RPC request through the coordinator; an agent's refusal arrives as
its one line (:class:`ServiceError`). The first call compares the protocol version: an
agent of another version is refused with a clear message, never half understood.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from station.core.errors import StationError

from .protocol import SERVICE_VERSION

_names = itertools.count(1)
#: how long a client waits for the coordinator to sign it in
SIGN_IN_TIMEOUT_S = 2.0


class ServiceError(StationError):
    """An agent refused a request, or could not be reached."""

    exit_code = 2


class AgentClient:
    """A connection to one agent (by its LECO name) through a coordinator."""

    def __init__(self, agent: str = "ledstation-agent", host: str = "localhost", port: int = 12300,
                 timeout_s: float = 10.0) -> None:
        from pyleco.utils.communicator import Communicator

        self.agent = agent
        self._where = f"{host}:{port}"
        #: signing in (the first request) waits SIGN_IN_TIMEOUT_S; a request, timeout_s
        self._communicator = Communicator(name=f"ledstation-client-{os.getpid()}-{next(_names)}", host=host,
                                          port=port, timeout=SIGN_IN_TIMEOUT_S)
        self.timeout_s = timeout_s
        self._checked = False

    def close(self) -> None:
        self._communicator.close()

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def call(self, method: str, **params: Any) -> Any:
        if not self._checked and method != "version":
            version = self.call("version")
            if version.get("service") != SERVICE_VERSION:
                raise ServiceError(f"agent {self.agent} speaks service version {version.get('service')}, this "
                                   f"program {SERVICE_VERSION} (ledstation {version.get('ledstation')} there); "
                                   "install the same ledstation version on both")
            self._checked = True
        try:
            return self._communicator.ask_rpc(self.agent, method=method, timeout=self.timeout_s, **params)
        except TimeoutError:
            raise ServiceError(f"agent {self.agent} did not answer (is `ledstation agent` running, and the "
                               "coordinator?)") from None
        except ConnectionRefusedError:
            raise ServiceError(f"no coordinator answers at {self._where} (start `ledstation coordinator`, and "
                               "`ledstation agent`)") from None
        except Exception as exc:  # noqa: BLE001 - the agent's refusal, as pyleco raises it
            if "Sign in failed" in str(exc):
                raise ServiceError(f"no coordinator answers at {self._where} (start `ledstation coordinator`, and "
                                   "`ledstation agent`)") from None
            if "not in the addresses list" in str(exc) or "not signed in" in str(exc).lower():
                raise ServiceError(f"no agent {self.agent} on the coordinator at {self._where} (is `ledstation "
                                   "agent` running with that name?)") from None
            text = str(exc).split("Error Data:", 1)[-1].strip()
            text = text.split(": ", 1)[1] if text.startswith(("ValueError:", "TypeError:")) else text
            raise ServiceError(f"agent {self.agent}: {text.splitlines()[0] if text else type(exc).__name__}") from None
