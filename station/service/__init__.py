"""The station service: an agent per PC that owns its channels and runs each run in a process of
its own, over LECO (pyleco)."""
