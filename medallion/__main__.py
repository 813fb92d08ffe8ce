"""`python -m medallion ...` runs the command line."""

from medallion.tools.cli import main

raise SystemExit(main())
