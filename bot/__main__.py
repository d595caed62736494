"""`python -m bot` is the same as the `samtal` command (the entry point lives outside the core)."""

from samtal.cli import main

raise SystemExit(main())
