"""`python -m train_final` is `opscore train`."""
from .cli import main

raise SystemExit(main())
