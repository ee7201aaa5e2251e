"""The run folder every command writes: created or reopened with a settings check, resumed, finished,
with its log file, TensorBoard writer and atomic writes.

Only the process that `writes` (rank 0 under torchrun) touches the disk; the others hold a folder that
reads like the real one and writes nothing. Files are written atomically (see runtime.io).
"""
from __future__ import annotations

import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping, Sequence

import yaml

from .io import atomic_torch_save, atomic_write_json, atomic_write_jsonl, atomic_write_text
from .settings import Schema, absolute_paths

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
RESULT = "result.json"
REDO = "delete it to redo that part of the run, or choose another --out"  # a damaged file's fix, for a run
_JSON_KIND = {list: "list", dict: "object", str: "string", int: "number", float: "number", bool: "boolean",
              type(None): "null"}


class RunFolderError(ValueError):
    """A run directory that cannot be used as asked (occupied, other settings, damaged file); names the fix."""


class _NullWriter:
    """Stands for the TensorBoard writer on processes that write nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _comparable(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as they read back from YAML (so a fresh value compares equal to its saved copy)."""
    return yaml.safe_load(yaml.safe_dump(dict(settings), sort_keys=False)) or {}


def settings_differences(new: Mapping[str, Any], saved: Mapping[str, Any], free: Collection[str] = (),
                         schema: Schema = Schema()) -> list[str]:
    """Keys whose value differs, ignoring `free` keys; a key the saved file lacks (written before the
    setting existed) matches when the new value is its `schema` default, and a saved key the new settings lack
    (an option of a plugin not in use) matches when the saved value is its default; `schema.paths` keys compare as
    absolute paths."""
    mine, theirs = absolute_paths(_comparable(new), schema.paths), absolute_paths(saved, schema.paths)
    defaults = _comparable(schema.defaults)
    diff = []
    for k in sorted(set(mine) | set(theirs)):
        if k in free:
            continue
        if k not in theirs and k in defaults and mine.get(k) == defaults[k]:
            continue
        if k not in mine and k in defaults and theirs.get(k) == defaults[k]:
            continue
        if mine.get(k) != theirs.get(k):
            diff.append(k)
    return diff


@dataclass
class RunFolder:
    """One run directory; `resumed` says whether an earlier run in it is being continued."""

    root: Path
    writes: bool = True
    resumed: bool = False

    @classmethod
    def open(cls, root: str | os.PathLike, settings: Mapping[str, Any], *, resume: bool, markers: Sequence[str],
             config: str = "config.yaml", free: Collection[str] = ("out",),
             schema: Schema = Schema(), writes: bool = True,
             barrier: Callable[[], None] | None = None, resumable: bool = True) -> "RunFolder":
        """Create `root`, or reopen it when one of `markers` shows an earlier run: that needs `resume` and
        the same settings (but `free` ones). Writes the settings to `config`. Under several processes
        every one checks, then `barrier` waits for all of them before the writing one writes. A command
        that cannot resume (`resumable` False) refuses any earlier run. `schema` (`schema_of` the settings
        class) says how saved settings compare: defaults of newer settings, path settings as absolute paths."""
        folder = cls(Path(root), writes)
        path = folder.root
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"--out {path} is a file, not a run directory; choose another --out")
        earlier = [m for m in markers if (path / m).exists()]
        if earlier:
            if not resumable:
                raise RunFolderError(f"run directory {path} already holds a run ({earlier[0]}); choose another --out")
            if not resume:
                raise RunFolderError(f"run directory {path} already holds a run ({earlier[0]}); pass --resume to "
                                     "continue it or choose another --out")
            saved = folder.read_yaml(config) if (path / config).exists() else {}
            diff = settings_differences(settings, saved, free, schema)
            if diff:
                raise RunFolderError(f"cannot resume {path}: settings differ ({', '.join(diff)}); resume with the "
                                     "original settings or choose another --out")
            folder.resumed = True
        elif resume:
            log.warning("nothing to resume in %s (none of %s found); starting a fresh run", path, ", ".join(markers))
        if barrier is not None:
            barrier()
        if writes:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise RunFolderError(f"cannot create run directory {path}: {e.strerror}; choose another --out") \
                    from None
            folder.write_text(config, yaml.safe_dump(dict(settings), sort_keys=False))
        return folder

    # ------------------------------------------------------------------ paths and reading
    def path(self, name: str) -> Path:
        """The path of file `name` in the folder."""
        return self.root / name

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    @property
    def finished(self) -> bool:
        """Whether the run wrote its result (the finished marker)."""
        return self.exists(RESULT)

    def damaged(self, name: str, why: str, fix: str = REDO) -> RunFolderError:
        """The one-line error for file `name` of the folder that cannot be read back (`why`), naming the fix."""
        return RunFolderError(f"{self.path(name)} is damaged ({why}); {fix}")

    def read_json(self, name: str, default: Any = None, kind: type | None = None, fix: str = REDO) -> Any:
        """A JSON file of the folder (`default` when absent); a damaged one, or one whose content is not a `kind`
        (list or dict) when given, is a one-line error naming it and `fix` (a command that only reads the
        folder names its own)."""
        p = self.path(name)
        if not p.exists():
            return default
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise self.damaged(name, str(e).splitlines()[0] if str(e) else type(e).__name__, fix) from None
        if kind is not None and not isinstance(data, kind):
            raise self.damaged(name, f"a JSON {_JSON_KIND.get(kind, kind.__name__)} expected, found "
                                     f"{_JSON_KIND.get(type(data), type(data).__name__)}", fix)
        return data

    def read_jsonl(self, name: str, keys: Sequence[str] = ()) -> list[Any]:
        """Rows of a JSON-lines file of the folder ([] when absent); with `keys`, every row must be an object
        holding them (else the file is damaged: a one-line error naming it)."""
        p = self.path(name)
        if not p.exists():
            return []
        try:
            rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (ValueError, UnicodeDecodeError) as e:
            raise self.damaged(name, str(e).splitlines()[0] if str(e) else type(e).__name__) from None
        if keys:
            for k, row in enumerate(rows, 1):
                if not isinstance(row, dict) or any(key not in row for key in keys):
                    raise self.damaged(name, f"row {k} is not an object with {', '.join(keys)}")
        return rows

    def read_yaml(self, name: str) -> dict[str, Any]:
        """A YAML mapping of the folder (e.g. its settings)."""
        try:
            data = yaml.safe_load(self.path(name).read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise self.damaged(name, str(e).splitlines()[0]) from None
        if not isinstance(data, dict):
            raise self.damaged(name, "not a mapping of settings")
        return data

    # ------------------------------------------------------------------ atomic writes
    def write_text(self, name: str, text: str) -> None:
        if self.writes:
            atomic_write_text(self.path(name), text)

    def write_json(self, name: str, data: Any) -> None:
        if self.writes:
            atomic_write_json(self.path(name), data)

    def write_jsonl(self, name: str, rows: Iterable[Any]) -> None:
        if self.writes:
            atomic_write_jsonl(self.path(name), rows)

    def save_torch(self, name: str, obj: Any) -> None:
        if self.writes:
            atomic_torch_save(obj, self.path(name))

    def finish(self, result: Mapping[str, Any]) -> None:
        """Write result.json, the finished marker."""
        self.write_json(RESULT, dict(result))

    # ------------------------------------------------------------------ log file and TensorBoard
    @contextmanager
    def logging_to(self, name: str) -> Iterator[None]:
        """Copy every log record to file `name` of the folder for the duration of the block."""
        if not self.writes:
            yield
            return
        handler = logging.FileHandler(self.path(name))
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield
        finally:
            root.removeHandler(handler)
            handler.close()

    @contextmanager
    def tensorboard(self, purge_step: int | None = None) -> Iterator[Any]:
        """A TensorBoard writer on tb/ for the block (a writer that writes nothing on other processes)."""
        if not self.writes:
            yield _NullWriter()
            return
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(self.path("tb")), purge_step=purge_step)
        try:
            yield writer
        finally:
            writer.close()
