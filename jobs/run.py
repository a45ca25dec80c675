"""Entry point of the whole pipeline (`mtlrec run`, `--date D` for one run date), for spark-submit and schedulers."""

import sys

from mtlrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
