"""python -m pymemcg: the ``pymemcg`` command (:mod:`pymemcg.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
