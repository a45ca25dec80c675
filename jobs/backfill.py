"""Entry point of `mtlrec backfill --from D1 --to D2`: each run date in order, for spark-submit."""

import sys

from mtlrec.cli import main

if __name__ == "__main__":
    sys.exit(main(["backfill", *sys.argv[1:]]))
