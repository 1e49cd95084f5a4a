"""``python -m station``: the ``ledstation`` command."""

from station.cli import main

raise SystemExit(main())
