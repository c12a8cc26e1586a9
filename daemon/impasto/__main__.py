"""`python -m impasto` is the `impasto` command."""

import sys

from .cli import main

sys.exit(main())
