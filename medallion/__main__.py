"""`python -m medallion ...` runs the command line."""

from medallion.cli import main

raise SystemExit(main())
