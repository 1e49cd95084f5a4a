"""Sinks other than the data file: they get records through a QueuedSink and never slow a run."""
