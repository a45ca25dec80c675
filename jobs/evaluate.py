"""Entry point of the `evaluate` stage, for spark-submit, `ray job submit` and schedulers."""

import sys

from mtlrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
