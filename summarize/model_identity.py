"""A local model directory's content as one digest, the name of the model it holds; the cache.

The settings identity names a local model by this digest, and the CTranslate2 conversion cache
keys its conversion by it, so a copy of the directory elsewhere reuses the conversion.

A path says where a model is, not what it is: new weights saved under the same path must make
articles out of date, and ``./m`` and ``/abs/m`` must not. Hashing gigabytes of weights on every
run would make a no-op rerun slow, so each file's hash is cached by its path, size, mtime, ctime
and inode in a small JSON file under the tool's cache directory (a corrupt cache counts as
empty). Only light standard-library modules are imported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path
from stat import S_ISREG
from typing import Any, ClassVar

from summarize import jsontext

__all__ = ["cache_root", "model_identity"]

log = logging.getLogger(__name__)

_CACHE_NAME = "model-digests.json"
_CACHE_VERSION = 1
# A file changed within this many seconds could change again within the same mtime tick
# without its stat changing (git's "racy" entries): its hash is not kept for later runs.
_RACY_NS = 2_000_000_000
_CHUNK = 1 << 20


def cache_root() -> Path:
    """``$SUMMARIZE_CACHE``, else ``$XDG_CACHE_HOME/summarize``, else ``~/.cache/summarize``."""
    if os.environ.get("SUMMARIZE_CACHE"):
        return Path(os.environ["SUMMARIZE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "summarize"


def model_identity(model: str) -> str | None:
    """``local:sha256:<hex>`` for a local model directory; None for a hub id (or anything else).

    The digest covers every file under the directory (recursively) by relative name, size and
    content hash, leaving out hidden entries (``.git``, download metadata) and documentation
    (``*.md``, ``LICENSE*``), which do not change what the model computes.
    """
    directory = Path(model).expanduser()
    if not directory.is_dir():
        return None
    cache = _DigestCache.open()
    lines = sorted(
        f"{relative}\0{size}\0{digest}" for relative, size, digest in _files(directory, cache)
    )
    cache.save()
    return "local:sha256:" + hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _files(directory: Path, cache: _DigestCache) -> list[tuple[str, int, str]]:
    root = directory.resolve()
    found = []
    seen: set[str] = set()  # real folders walked: a symlink loop must not be walked for ever
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.endswith(".md") or name.startswith("LICENSE"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                size, digest = cache.digest(path)
            except OSError as exc:  # the engine will fail to load it and say so
                size, digest = -1, f"unreadable ({exc.strerror or exc})"
            found.append((relative, size, digest))
    return found


class _DigestCache:
    """File hashes by path, keyed by size, mtime, ctime and inode; a corrupt file counts as empty.

    One instance per cache file and process, so a run computing the identity twice reads it once.
    """

    _open: ClassVar[dict[Path, _DigestCache]] = {}

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        with contextlib.suppress(OSError, jsontext.JsonError):  # a corrupt cache is empty
            data = jsontext.read_file(path)
            ours = isinstance(data, dict) and data.get("version") == _CACHE_VERSION
            files = data.get("files") if ours else None
            if isinstance(files, dict):
                self.entries = {k: v for k, v in files.items() if isinstance(v, list)}

    @classmethod
    def open(cls) -> _DigestCache:
        path = cache_root() / _CACHE_NAME
        if path not in cls._open:
            cls._open[path] = cls(path)
        return cls._open[path]

    def digest(self, path: str) -> tuple[int, str]:
        """The size and sha256 of ``path``, hashed only when its stat is not the cached one."""
        stat = os.stat(path)  # follows symlinks: a hub cache snapshot links to its blobs
        if not S_ISREG(stat.st_mode):  # a FIFO would block the run for ever, a device never end
            return -1, "not a regular file"
        key = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        cached = self.entries.get(path)
        if cached is not None and len(cached) == 5 and cached[:4] == key:
            return stat.st_size, str(cached[4])
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            while block := fh.read(_CHUNK):
                sha.update(block)
        if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _RACY_NS:
            self.entries[path] = [*key, sha.hexdigest()]
            self.dirty = True
        return stat.st_size, sha.hexdigest()

    def save(self) -> None:
        """Write the cache back if it learnt something; one that cannot be written is skipped."""
        if not self.dirty:
            return
        temp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(
                json.dumps({"version": _CACHE_VERSION, "files": self.entries}), encoding="utf-8"
            )
            os.replace(temp, self.path)
            self.dirty = False
        except OSError as exc:
            log.debug("%s: cannot write the model digest cache (%s)", self.path, exc)
            temp.unlink(missing_ok=True)
