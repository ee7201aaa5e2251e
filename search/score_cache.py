"""A file of proxy scores of stand-alone networks, keyed by everything that changes a score.

NASWOT's NB201 figure averages 500 runs of N=1000 (Mellor et al. 2021, Table 2): the score of a
(genotype, proxy, data, initialisation) does not depend on the run, so runs share one file and 500 runs
cost one pass over the cells they touch. The key (`scoring_key`) holds the space and its options, the
proxy and its options, the network size, the identity of the scoring minibatch (data set, resolved root,
batch size, data seed, augmentation, memory layout), the initialisation seed, the device type, the torch
version and CACHE_FORMAT; its SHA-256 digest tags every entry, so a change of any part finds nothing
(invalidated) while entries of other keys stay in the file for the runs that use them.

Format: JSON lines, appended and fsynced one at a time (a kill tears at most the last line, which is
skipped): `{"key": digest, "context": {...}}` once per key (for people), then
`{"key": digest, "genotype": text, "score": x}` (non-finite scores as "nan"/"inf"/"-inf").
Several processes may append to one file (each line is one write of a short line in append mode).
The data files themselves are identified by path, not content: after replacing them, use a new file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

from runtime.io import append_line, json_safe

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when a proxy's or the scoring's code changes its scores


class ScoreCacheError(ValueError):
    """A score cache file that cannot be used (a folder, unreadable); names the fix."""


def key_digest(key: Mapping[str, Any]) -> str:
    """SHA-256 of the key written as canonical JSON."""
    return hashlib.sha256(json.dumps(json_safe(dict(key)), sort_keys=True).encode("utf-8")).hexdigest()


class ScoreCache:
    """Scores of one key: read from `path` (None: in memory only), new ones appended to it."""

    def __init__(self, path: str | os.PathLike | None, key: Mapping[str, Any]) -> None:
        self.path = None if path is None else Path(path)
        self.key = dict(key)
        self.digest = key_digest(key)
        self.scores: dict[str, float] = {}
        self._key_written = False
        self.hits = 0
        if self.path is not None:
            self._load()

    def _load(self) -> None:
        p = self.path
        assert p is not None
        if p.is_dir():
            raise ScoreCacheError(f"--score-cache {p} is a folder; give a file path")
        if not p.exists():
            return
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise ScoreCacheError(f"cannot read score cache {p}: {e.strerror}; fix its permissions or choose "
                                  "another --score-cache") from None
        skipped = 0
        for line in raw.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                skipped += 1  # a torn line of a killed writer
                continue
            if not isinstance(row, dict) or row.get("key") != self.digest:
                continue
            if "context" in row:
                self._key_written = True
            elif "genotype" in row and "score" in row:
                self.scores[str(row["genotype"])] = float(row["score"])
        if raw and not raw.endswith(b"\n"):
            with open(p, "ab") as f:  # end a torn last line so the next entry starts on its own line
                f.write(b"\n")
        if skipped:
            log.warning("score cache %s: skipped %d unreadable line(s)", p, skipped)
        log.info("score cache %s: %d scores for this key", p, len(self.scores))

    def get(self, genotype: str) -> float | None:
        """The stored score of `genotype` under this key, or None."""
        value = self.scores.get(genotype)
        if value is not None:
            self.hits += 1
        return value

    def put(self, genotype: str, score: float) -> None:
        """Store and append (fsynced) the score of `genotype`."""
        self.scores[genotype] = float(score)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._key_written:
            append_line(self.path, json.dumps(json_safe({"key": self.digest, "context": self.key}), sort_keys=True))
            self._key_written = True
        append_line(self.path, json.dumps(json_safe({"key": self.digest, "genotype": genotype, "score": float(score)})))
