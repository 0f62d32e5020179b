"""`python -m secconf`."""

from __future__ import annotations

from secconf.cli import console_main

if __name__ == "__main__":
    console_main()
