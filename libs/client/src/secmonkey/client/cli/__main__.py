"""`python -m secmonkey.client.cli` runs the `secmonkey` command."""

from __future__ import annotations

import sys

from secmonkey.client.cli import main

if __name__ == "__main__":
    sys.exit(main())
