"""The SQLite projector's writer process: commits prepared steps on its own connection.

A thread cannot overlap SQLite's writes with the folds: the ``sqlite3`` module takes the
GIL back for every row of an ``executemany``, so a writer thread and the folding thread
run by turns. This process runs beside the projector instead (``python -m
central_projector.projection.readmodels.sqlitewriter``, imports nothing but the standard library)
and commits one job at a time, each in one transaction:

    BEGIN IMMEDIATE; check a row (the projector's position) is what the job expects;
    executemany each (sql, parameter rows); COMMIT

and answers ``ok``, ``stale`` (the check failed: nothing written) or ``error``. Jobs and
answers are pickles framed by an 8-byte length on its stdin and stdout, which only the
projector that started it holds: at end of file (the projector closed it, or died) it
exits. It ignores SIGINT and SIGTERM, which reach a whole process group: the projector
decides when it ends, and a transaction cut short would only be rolled back anyway.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
import weakref
from typing import IO, Any

_LEN = struct.Struct(">Q")


class Stale(Exception):
    """The checked row (the projector's position) was not the one the job was prepared
    after: nothing of it was written. The writer thread of PostgreSQL raises it too."""


def _send(out: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LEN.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(src: IO[bytes]) -> Any:
    head = src.read(_LEN.size)
    if len(head) < _LEN.size:
        return None
    (n,) = _LEN.unpack(head)
    data = src.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)  # our own pipe, from the process that started us


class WriterProcess:
    """The projector's side: start the process, send a job, wait for its answer."""

    def __init__(self, path: str, pragmas: list[str], timeout_s: float) -> None:
        self.proc = subprocess.Popen(
            # -P: the current directory cannot shadow a package of ours in the child
            [sys.executable, "-P", "-m", __name__, path, str(timeout_s), *pragmas],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._busy = False
        self._broken = False  # its pipe failed: it is gone, even if not yet reaped
        # A projector dropped without close(): its writer still ends (end of its input).
        weakref.finalize(self, _hang_up, self.proc)

    def alive(self) -> bool:
        return not self._broken and self.proc.poll() is None

    def send(self, check: tuple[str, tuple[Any, ...], Any], statements: list[Any]) -> None:
        """Start one job: ``check`` is (sql, parameters, the row it must return, or None
        for no row); ``statements`` are (sql, parameter rows)."""
        assert self.proc.stdin is not None
        try:
            _send(self.proc.stdin, (check, statements))
        except (BrokenPipeError, OSError) as exc:
            self._broken = True
            raise sqlite3.OperationalError(f"the projector's writer process ended: {exc}") from exc
        self._busy = True

    def wait(self) -> None:
        """The answer to the job sent: returns when committed, else raises."""
        if not self._busy:
            return
        self._busy = False
        assert self.proc.stdout is not None
        answer = _receive(self.proc.stdout)
        if answer is None:
            self._broken = True
            code = self.proc.poll()
            raise sqlite3.OperationalError(
                f"the projector's writer process ended (exit status {code}) during a step; "
                "its transaction was not committed"
            )
        if answer[0] == "stale":
            raise Stale(answer[1])
        if answer[0] == "error":
            kind = getattr(sqlite3, answer[1], sqlite3.DatabaseError)
            if not (isinstance(kind, type) and issubclass(kind, sqlite3.Error)):
                kind = sqlite3.DatabaseError
            raise kind(answer[2])

    def close(self) -> None:
        """Let the process finish what it has and exit (end of its input)."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _hang_up(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()


def serve(path: str, timeout_s: float, pragmas: list[str], src: IO[bytes], out: IO[bytes]) -> int:
    conn = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    for pragma in pragmas:
        conn.execute(pragma)
    cursor = conn.cursor()
    while True:
        job = _receive(src)
        if job is None:
            conn.close()
            return 0
        (check_sql, check_params, expected), statements = job
        try:
            cursor.execute("BEGIN IMMEDIATE")
            row = cursor.execute(check_sql, check_params).fetchone()
            if (tuple(row) if row is not None else None) != expected:
                cursor.execute("ROLLBACK")
                _send(out, ("stale", f"found {row!r}, expected {expected!r}"))
                continue
            for sql, rows in statements:
                cursor.executemany(sql, rows)
            cursor.execute("COMMIT")
            answer: tuple[str, ...] = ("ok",)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    cursor.execute("ROLLBACK")
            answer = ("error", type(exc).__name__, str(exc))
        _send(out, answer)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    path, timeout_s, *pragmas = argv
    return serve(path, float(timeout_s), pragmas, sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
