"""Entry point of `mtlrec export` (the run's model for an online server), for schedulers."""

import sys

from mtlrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
