"""`python -m papo` runs the `papo` command line."""

import sys

from papo.cli import main

sys.exit(main())
