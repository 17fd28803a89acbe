"""Command line entry point: see `python run.py --help`."""

import sys

from cli import main

if __name__ == "__main__":
    sys.exit(main())
