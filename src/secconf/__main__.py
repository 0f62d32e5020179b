"""`python -m secconf`."""

from __future__ import annotations

import sys

from secconf.cli import main

if __name__ == "__main__":
    sys.exit(main())
