"""`python -m monitoring ...`: see monitoring/cli.py."""

import sys

from monitoring.cli import main

sys.exit(main())
