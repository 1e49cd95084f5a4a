"""What agents and their clients must agree on."""

#: the service's protocol version: a client refuses an agent of another one
SERVICE_VERSION = 1
#: pyleco's default ports: the coordinator's, and the data proxy's (publishers; subscribers at one below)
COORDINATOR_PORT = 12300
DATA_PORT = 11100


def control_name(agent: str, channel: str) -> str:
    """The LECO name of a channel's run control, and the topic its documents are published under."""
    return f"{agent}-{channel}"
