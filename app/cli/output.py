"""Standard output that cannot be written (a full disk, ``> /dev/full``, an I/O error) ends any
command with one line on standard error, not a traceback.

Every command's callback runs with ``sys.stdout`` writing through ``OutputGuard``, which turns
an ``OSError`` of standard output into ``OutputFailed``: only an error of standard output is
reported as one (an ``OSError`` of a file a command writes keeps its own message), and the
commands need no handler of their own. A reader that has gone (``| head``, ``EPIPE``) is left
to click, which ends the command quietly, exit status 1.
"""

from __future__ import annotations

import errno
import functools
import io
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import click


class OutputFailed(OSError):
    """Standard output could not be written (its ``errno`` and ``strerror`` say why)."""


class OutputGuard(io.BufferedIOBase):
    """Standard output's binary stream, its write and flush errors raised as ``OutputFailed``
    (a broken pipe as it is)."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self.target = target

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return int(self.target.fileno())

    def isatty(self) -> bool:
        return bool(self.target.isatty())

    def write(self, data: Any) -> int:
        with output_errors():
            return int(self.target.write(data))

    def flush(self) -> None:
        if not self.closed:
            with output_errors():
                self.target.flush()


class ClosedOutput(io.TextIOBase):
    """Standard output when the process started with it closed: every write fails."""

    encoding = "utf-8"
    errors = "strict"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OutputFailed(errno.EBADF, "standard output is closed")


def standard_output_closed() -> bool:
    """True when the process started with standard output closed (``>&-``)."""
    return sys.stdout is None or isinstance(sys.stdout, ClosedOutput)


@contextmanager
def output_errors() -> Iterator[None]:
    try:
        yield
    except (BrokenPipeError, OutputFailed):
        raise
    except OSError as exc:
        raise OutputFailed(exc.errno or errno.EIO, exc.strerror or str(exc)) from exc


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """``sys.stdout`` writing through ``OutputGuard`` until the block ends; flushed at its end,
    so output still buffered then fails inside it too. Standard output closed (``>&-``, no
    ``sys.stdout``) fails at the first write (click would drop the output, exit status 0); a
    stream without a binary one is left as it is."""
    original = sys.stdout
    if original is None:
        sys.stdout = ClosedOutput()
        try:
            yield
        finally:
            sys.stdout = None
        return
    binary = getattr(original, "buffer", None)
    if binary is None:
        yield
        return
    with output_errors():
        original.flush()
    guarded = io.TextIOWrapper(
        OutputGuard(binary),
        encoding=getattr(original, "encoding", None) or "utf-8",
        errors=getattr(original, "errors", None) or "strict",
        line_buffering=bool(getattr(original, "line_buffering", False)),
        write_through=True,
    )
    sys.stdout = guarded
    try:
        yield
        guarded.flush()
    finally:
        sys.stdout = original
        with suppress(OSError, ValueError):
            guarded.detach()  # the original stream stays open


def report_output_errors(command: click.Command) -> click.Command:
    """``command`` (a group: each of its commands) with its standard output guarded; returns
    it."""
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            report_output_errors(subcommand)
    # Each app registers the same command objects: guard each once.
    if command.callback is not None and not getattr(command.callback, GUARDED, False):
        command.callback = with_guarded_output(command.callback)
    return command


@contextmanager
def stopping_on_sigterm() -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``, systemd stopping a job) stops the command as Ctrl-C
    does: its clean-up runs (an export's unfinished file is removed, an import's log line
    says what it wrote, a transaction is rolled back) and click says "Aborted!", exit 1.
    Python's default ended the process at once: a 100 MB hidden ``.NAME.….partial`` file was
    left beside an export's target, and an import stopped so left no log line."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a handler (a command run from a test's thread)
        return

    def stop(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: The attribute that marks a callback guarded.
GUARDED = "credgrid_guards_output"


def with_guarded_output(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            with guarded_stdout(), stopping_on_sigterm():
                return callback(*args, **kwargs)
        except OutputFailed as exc:
            discard_standard_output()
            with suppress(OSError):  # standard error may be the same full disk (2>&1)
                click.echo(f"Error: cannot write the output: {exc.strerror}", err=True)
            raise SystemExit(1) from None

    setattr(run, GUARDED, True)
    return run


def discard_standard_output() -> None:
    """What is still buffered for standard output goes to ``/dev/null`` instead, so flushing
    it at exit raises no second error (Python's documented way, the ``signal`` module's note
    on SIGPIPE). Nothing to do when standard output is not a file descriptor (a test's)."""
    try:
        descriptor = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)
