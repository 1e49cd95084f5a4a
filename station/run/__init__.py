"""The run engine: records and streams, the record fan-out, the runner."""
