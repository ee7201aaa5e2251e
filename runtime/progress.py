"""Whether to draw progress bars: only when asked and stderr is a terminal, so logs and pipes get no bar debris."""
from __future__ import annotations

import sys
from typing import TextIO


def show_progress(no_progress: bool, stream: TextIO | None = None) -> bool:
    """True when bars were not turned off (--no-progress) and `stream` (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not no_progress and callable(isatty) and bool(isatty())
