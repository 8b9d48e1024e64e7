"""``python -m lbsm``: the command line (``lbsm.cli``)."""
from .cli import main

raise SystemExit(main())
