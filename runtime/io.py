"""Files written atomically (temporary file in the same folder, fsync, rename): a killed run leaves only
valid files. New files get the user's normal permissions (0666 less the umask), not mkstemp's 0600."""
from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterable


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class WriteError(OSError):
    """A file the run cannot write (full or read-only file system, no permission); the line names it and the fix."""


_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_error(path: str | os.PathLike, e: OSError) -> WriteError:
    """The one-line WriteError for `path` from the OSError `e` of writing it (keeps `e.errno`)."""
    fix = "free some space" if e.errno in _SPACE else "make it writable"
    err = WriteError(f"cannot write {path}: {e.strerror or e}; {fix} or choose another --out")
    err.errno = e.errno
    return err


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(f)` on a binary temporary file beside `path`, sync it, then rename it over `path`; an OSError
    on the way (full or read-only file system) is a WriteError naming `path`, and no temporary file is left."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise write_error(path, e) from e
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            raise write_error(path, e) from e
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    data = text.encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    """JSON version of `atomic_write_text` (indented, NaN/inf written as JSON-legal strings)."""
    atomic_write_text(path, json.dumps(json_safe(data), indent=2) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[Any]) -> None:
    """Rewrite a JSON-lines file atomically with `rows`."""
    atomic_write_text(path, "".join(json.dumps(json_safe(r)) + "\n" for r in rows))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save of `obj` to `path` atomically."""
    import torch

    atomic_write(path, lambda f: torch.save(obj, f))


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append one line and sync it (journals such as progress.jsonl: a kill tears at most the last line)."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line.rstrip("\n") + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise write_error(path, e) from e


def read_journal(path: str | os.PathLike, valid: Callable[[int, Any], bool] = lambda i, row: True,
                 cut: bool = True) -> list[Any]:
    """The rows of a journal written with `append_line`, up to the first torn line (a kill mid-write) or
    row that `valid(index, row)` refuses; with `cut` the file is truncated there so appends continue it."""
    path = Path(path)
    rows: list[Any] = []
    if not path.exists():
        return rows
    good = 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                row = json.loads(raw)
            except ValueError:
                break
            if not raw.endswith(b"\n") or not _accepts(valid, len(rows), row):
                break
            rows.append(row)
            good += len(raw)
    if cut and good != path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good)
    return rows


def _accepts(valid: Callable[[int, Any], bool], index: int, row: Any) -> bool:
    """`valid(index, row)`, False for a row of another shape (one that makes the check itself fail)."""
    try:
        return bool(valid(index, row))
    except (AttributeError, TypeError, KeyError, IndexError, ValueError):
        return False


def json_safe(x: Any) -> Any:
    """Replace non-finite floats by the strings 'nan', 'inf', '-inf' (strict JSON has no NaN)."""
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return "nan" if x != x else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
