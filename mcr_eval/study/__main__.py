"""``python -m mcr_eval.study CONFIG ...``: the same command as ``mcr-eval study CONFIG ...``."""

import sys

from mcr_eval.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["study", *sys.argv[1:]]))
