"""The agent's configuration: which coordinator it signs in to, where it keeps its data, and
the channels it owns (a channel is a station configuration: a source meter, a light
instrument, pixels).

```toml
[agent]
name = "rack1"                 # the agent's name on the coordinator (LECO component name)
host = "localhost"             # the coordinator it signs in to
port = 12300
data_port = 11100              # the data proxy the runs publish their documents to
data_dir = ""                  # queues, run registry, run files ("": the user's data folder)
idle_exit_s = 0                # leave once idle this long: no run, nothing queued (0: never)

[channels.A]
config = "station-a.toml"      # the channel's station configuration ("default": the simulated bench)
resume = "never"               # after its run process died: "never", "ask" or "automatic"
folder = ""                    # where its run files go ("": the agent's data_dir/channels/A)
```

Declared like the station configuration (typed, bounded dataclasses, msgspec); every problem
is one line naming the file and the key. Paths are relative to this file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import msgspec

from station.core.errors import ConfigError
from station.core.user_files import read_user_file
from station.setup.config import NAME_PATTERN, NAME_RULE, StationConfig, load_config

from .protocol import COORDINATOR_PORT, DATA_PORT

RESUME_POLICIES = ("never", "ask", "automatic")

#: a LECO component name: no "." (it separates the namespace) and printable
COMPONENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]{0,39}$")


@dataclass(frozen=True)
class AgentTable:
    name: Annotated[str, msgspec.Meta(pattern=COMPONENT_NAME.pattern)] = "ledstation-agent"
    host: Annotated[str, msgspec.Meta(min_length=1, max_length=253)] = "localhost"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = COORDINATOR_PORT
    #: the data proxy runs publish their documents to (subscribers read at data_port - 1)
    data_port: Annotated[int, msgspec.Meta(ge=2, le=65535)] = DATA_PORT
    data_dir: Annotated[str, msgspec.Meta(max_length=4096)] = ""
    #: leave once idle this long (no run, nothing queued), s; 0: never (a window's local agent)
    idle_exit_s: Annotated[float, msgspec.Meta(ge=0, le=30 * 86400)] = 0.0


@dataclass(frozen=True)
class ChannelTable:
    config: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
    resume: str = "never"
    folder: Annotated[str, msgspec.Meta(max_length=4096)] = ""


@dataclass(frozen=True)
class Channel:
    """One channel the agent owns: its name, its station configuration, its resume policy, and
    the folder its run files go to (None: the agent's own folder for the channel)."""

    name: str
    config: StationConfig
    resume: str
    folder: Path | None = None


@dataclass(frozen=True)
class AgentConfig:
    source: str
    agent: AgentTable
    channels: dict[str, Channel] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        """Where the agent keeps queues, its run registry and (by default) the run files."""
        if self.agent.data_dir:
            return _relative(self.agent.data_dir, self.source)
        from station.core.user_dirs import user_data_dir

        return user_data_dir() / "agents" / self.agent.name


def _relative(value: str, source: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() or source == "default" else Path(source).parent / path


def _convert(table: Any, cls: type, where: str) -> Any:
    try:
        return msgspec.convert(table, cls)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {str(exc).replace('`', '')}") from None


def agent_config_from_text(text: str, source: str) -> AgentConfig:
    """An agent configuration from its TOML text; each channel's station configuration is
    loaded and checked now (before the agent signs in)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"agent config {source}: not valid TOML ({exc})") from None
    unknown = set(data) - {"agent", "channels"}
    if unknown:
        raise ConfigError(f"agent config {source}: unknown table [{sorted(unknown)[0]}]")
    agent = _convert(data.get("agent", {}), AgentTable, f"agent config {source}: [agent]")
    tables = data.get("channels", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"agent config {source}: [channels] must be tables [channels.NAME]")
    channels = {}
    for name, table in tables.items():
        where = f"agent config {source}: [channels.{name}]"
        if not NAME_PATTERN.match(name):
            raise ConfigError(f"{where}: a channel name must be {NAME_RULE}")
        entry = _convert(table, ChannelTable, where)
        if entry.resume not in RESUME_POLICIES:
            raise ConfigError(f"{where} resume: must be one of {', '.join(RESUME_POLICIES)}, got {entry.resume!r}")
        config = load_config(None if entry.config == "default" else _relative(entry.config, source))
        folder = _relative(entry.folder, source) if entry.folder else None
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"{where} folder: {folder} is not a folder")
        channels[name] = Channel(name, config, entry.resume, folder)
    return AgentConfig(source, agent, channels)


def load_agent_config(path: str | Path | None) -> AgentConfig:
    """The agent configuration in ``path`` (None: one simulated channel "sim" on the default bench)."""
    if path is None:
        return agent_config_from_text('[channels.sim]\nconfig = "default"\n', "default")
    path = Path(path)
    try:
        text = read_user_file(path, "agent config").decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"agent config {path}: not a text file (UTF-8)") from None
    return agent_config_from_text(text, str(path))
