"""Two helpers of a run's timing: a call beside the main thread in the run's logging
context, and the garbage collector paused while a run builds its objects."""

from __future__ import annotations

import contextvars
import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a run builds its objects.

    A national run makes ~500,000 long-lived objects (rows, entries, actions), and each
    full collection pass walks all of them: the passes cost as much as the work itself
    (a province at 100,000 rows, in process: 2.2-2.7 s with them, 1.2-1.4 s without).
    What a run builds holds no cycles; the few that arise (an exception's traceback)
    wait for the next pass after the run."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


class Beside:
    """A call run on its own thread, in the caller's logging context (a new thread
    starts with empty context variables, and every log line of a run carries its id)."""

    def __init__(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.seconds = 0.0
        self._value: Any = None
        self._error: BaseException | None = None
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run, call, args,
                                                                   kwargs),
                                        name="roster", daemon=True)
        self._thread.start()

    def _run(self, call: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            self._value = call(*args, **kwargs)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc
        finally:
            self.seconds = time.monotonic() - started

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        """The call's value, once it has returned; its exception, raised here."""
        self.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value
