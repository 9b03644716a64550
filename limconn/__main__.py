"""`python -m limconn ...`: the command line; see `limconn.cli`."""

import sys

from limconn.cli import main

sys.exit(main())
