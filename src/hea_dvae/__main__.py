"""``python -m hea_dvae``: the command line."""

from .cli import main

raise SystemExit(main())
