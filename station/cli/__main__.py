"""``python -m station.cli``."""

from station.cli import main

raise SystemExit(main())
