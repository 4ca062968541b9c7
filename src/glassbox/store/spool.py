"""The shutdown spool: what a writer's sinks could not write before the process stopped.

``<dir>/<sink>/<time>-<pid>.jsonl`` in the audit-trail format, fsynced; the next writer with the
same folder writes each file to the sink it was meant for and deletes it (``glassbox import``
also reads these files). A file is claimed by renaming it, so two processes starting at once
never write the same file twice; a claim left by a dead process is taken over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from glassbox.errors import ImportFormatError
from glassbox.model import Trace
from glassbox.store.trail import dumps_line, read_trail

log = logging.getLogger("glassbox")
_CLAIM = ".claimed-"
_AHEAD = "ahead-"


class SpoolDir:
    """A ``writer.Spool`` in a folder."""

    def __init__(self, directory: str | os.PathLike[str], batch_size: int = 500) -> None:
        self.directory = Path(directory)
        self.batch_size = batch_size

    def _folder(self, sink: str) -> Path:
        return self.directory / "".join(c if c.isalnum() or c in "-_" else "_" for c in sink)

    def put(self, sink: str, traces: Sequence[Trace], *, prefix: str = "") -> Path:
        """Write ``traces`` durably (one write, then fsync) for ``sink``; returns the file."""
        folder = self._folder(sink)
        folder.mkdir(parents=True, exist_ok=True)
        data = b"".join(dumps_line(t) for t in traces)
        tmp = folder / f".{prefix}{time.time_ns()}-{os.getpid()}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        final = tmp.with_name(tmp.name[1:-5] + ".jsonl")
        os.replace(tmp, final)  # whole or not at all
        return final

    def put_ahead(self, sink: str, traces: Sequence[Trace]) -> Path:
        """The write-ahead copy of a batch about to be acknowledged (``forget`` it once written): after a
        kill -9, the next start writes it like any spooled file."""
        return self.put(sink, traces, prefix=_AHEAD)

    @staticmethod
    def forget(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink()

    def has(self, sink: str) -> bool:
        folder = self._folder(sink)
        return folder.is_dir() and any(self._candidates(folder))

    def _candidates(self, folder: Path) -> Iterator[Path]:
        for p in sorted(folder.iterdir()):
            if p.name.startswith(_AHEAD) and p.name.endswith(".jsonl"):
                if not _alive(p.name[:-6].rsplit("-", 1)[-1]):
                    yield p  # a write-ahead copy of a process that died before writing it
            elif p.name.endswith(".jsonl"):
                yield p
            elif _CLAIM in p.name and not _alive(p.name.rsplit(_CLAIM, 1)[1]):
                yield p  # claimed by a process that died while writing it

    def reload(self, sink: str) -> Iterator[tuple[list[Trace], Callable[[bool], None]]]:
        folder = self._folder(sink)
        if not folder.is_dir():
            return
        for path in list(self._candidates(folder)):
            original = folder / (path.name.split(_CLAIM)[0])
            claimed = folder / f"{original.name}{_CLAIM}{os.getpid()}"
            try:
                os.rename(path, claimed)
            except OSError:
                continue  # another process took it
            state = {"ok": True}

            def done(ok: bool, state: dict[str, bool] = state) -> None:
                state["ok"] = state["ok"] and ok

            batch: list[Trace] = []
            for line, item in read_trail(claimed):
                if isinstance(item, ImportFormatError):
                    log.warning("glassbox: spool %s line %d unreadable, skipped: %s", claimed, line, item)
                    continue
                batch.append(item)
                if len(batch) >= self.batch_size:
                    yield batch, done
                    batch = []
                    if not state["ok"]:
                        break
            if batch and state["ok"]:
                yield batch, done
            if state["ok"]:
                claimed.unlink(missing_ok=True)
                log.info("glassbox: wrote spooled traces from %s to %s", original.name, sink)
            else:
                with contextlib.suppress(OSError):
                    os.rename(claimed, original)  # kept for the next start
                return


def _alive(pid_text: str) -> bool:
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
