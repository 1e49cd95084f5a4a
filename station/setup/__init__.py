"""Station set-up: the configuration file, and opening its instruments."""
