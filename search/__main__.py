"""`python -m search` is `opscore`."""
from .cli import main

raise SystemExit(main())
