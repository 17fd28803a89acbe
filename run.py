"""Command line entry point: see `python run.py --help`."""

import sys

if __name__ == "__main__":
    from simulation.batch.executors import prestart_for

    prestart_for(sys.argv[1:])  # the batch's fork server warms up while the command is parsed
    from cli import main

    sys.exit(main())
