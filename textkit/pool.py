"""The worker pool: the one place that starts processes (on ``multiprocess``).

Operations over an iterable of items (usually batches of documents):

* :func:`imap` — ``func(item)`` for every item, results yielded in input order;
* :class:`Pool` — the processes of :func:`imap` kept for several inputs in turn
  (started once, possibly before the first input is read);
* :func:`map_reduce` — ``func(item)`` per item, partial results combined with an
  associative, commutative ``merge``. Each worker folds its own partials as it
  goes (a map-side combiner) and hands back one partial at the end, so the
  parent merges ``workers`` tables instead of one per batch. Use it for exact
  (integer) statistics; for floating-point sums whose bits must not depend on
  scheduling, use :func:`imap` and merge in input order.

Properties a caller relies on:

* Bounded memory: at most ``window`` items are in flight (read but not yet
  answered); the input iterator is consumed lazily.
* ``workers=1`` (or an input of a single item) runs in this process, no pool;
  such runs in several threads take turns (:func:`exclusive`).
* On Linux workers are forked, so whatever the parent loaded before the call
  (jieba's dictionary, a user dictionary, vectors) is shared, not reloaded;
  elsewhere they are spawned and ``initializer(*initargs)`` rebuilds it.
* Items and results travel as C-pickled bytes (``multiprocess`` pickles with
  the pure-Python dill otherwise, several times slower for large batches).
* A worker that raises ends the run: the exception reaches the caller (a
  :class:`TextkitError` as itself, anything else as :class:`WorkerError` with
  its type and message); a worker that dies is reported likewise, even one
  killed halfway through writing an answer (:class:`_ResultChannel`). Workers
  ignore SIGINT; on Ctrl-C, SIGTERM or an error the parent terminates them
  (without a word through the queues, whose locks it may hold), and once
  every task is answered they are told to stop and exit on their own, so no
  stray processes remain and no traceback is printed by them. A parent killed
  outright takes its workers with it (Linux's parent-death signal).
"""

from __future__ import annotations

import gc
import itertools
import os
import pickle
import queue
import signal
import struct
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, List, Optional, Tuple

from . import errors
from .errors import TextkitError, UsageError, WorkerError

_PROTOCOL = pickle.HIGHEST_PROTOCOL
MAX_WORKERS = 256  # more processes than this is a typo (-j 99999), not a plan: each is a fork of the parent
_POLL_SECONDS = 0.5


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(value: Any) -> int:
    """Number of worker processes for ``-j VALUE``: 0, ``"auto"`` or None mean all cores."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return available_cores()
    try:
        n = int(value)
        if isinstance(value, float) and n != value:
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(f"workers (-j) takes a whole number or 'auto', not {value!r}") from None
    if n < 0:
        raise UsageError("workers (-j) must be 0 (all cores) or more")
    if n > MAX_WORKERS:
        raise UsageError(f"workers (-j) must be at most {MAX_WORKERS}, got {n} ({available_cores()} cores here)")
    return n if n > 0 else available_cores()


def _context():
    import multiprocess

    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocess.get_context(method)


def _describe_error(exc: BaseException) -> Tuple[str, str, str]:
    """(error class name if it is a textkit error else "", message, traceback text)."""
    name = type(exc).__name__ if isinstance(exc, TextkitError) else ""
    message = str(exc) if name else f"{type(exc).__name__}: {exc}"
    return name, message, traceback.format_exc()


def _rebuild_error(name: str, message: str, trace: str) -> TextkitError:
    cls = getattr(errors, name, None) if name else None
    if isinstance(cls, type) and issubclass(cls, TextkitError):
        err = cls(message)
    else:
        err = WorkerError(f"a worker failed: {message}")
    err.worker_traceback = trace  # type: ignore[attr-defined]
    return err


_KINDS = ("ok", "ack", "final", "error")
_HEADER = struct.Struct("<BqQ")  # kind, index, payload length
_READ_CHUNK = 1 << 20


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _ResultChannel:
    """Answers from the workers to the parent: one pipe, each message a header and its payload.

    Workers write whole messages one at a time, under a lock they share, from a
    sender thread (the work goes on while an answer is written).  The parent never
    waits inside a message: it reads the bytes that are there and waits on the pipe
    with a timeout.  A worker killed halfway through an answer (the out-of-memory
    killer) leaves a message that is never complete, and the parent, finding the
    worker's exit status, reports its death; reading messages whole, as a queue
    does, would wait for the missing bytes for ever.  POSIX pipes (Linux, macOS).
    """

    def __init__(self, ctx):
        self._reader, self._writer = ctx.Pipe(duplex=False)
        self._lock = ctx.Lock()
        self._buffer = bytearray()
        self.eof = False  # the parent has read to the end: every worker has exited
        self._outbox: Optional[queue.SimpleQueue] = None  # a worker's messages for its sender thread
        self._sender: Optional[threading.Thread] = None

    # -- in a worker
    def send(self, kind: str, index: int, payload: bytes) -> None:
        """Hand a message to this worker's sender thread (started on first use)."""
        if self._sender is None:
            self._outbox = queue.SimpleQueue()
            self._sender = threading.Thread(target=self._send_loop, name="textkit-sender", daemon=True)
            self._sender.start()
        self._outbox.put((kind, index, payload))

    def flush(self) -> None:
        """Return once every message handed over is written (or the parent is gone)."""
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join()
            self._sender = None

    def _send_loop(self) -> None:
        fd = self._writer.fileno()
        while True:
            message = self._outbox.get()
            if message is None:
                return
            kind, index, payload = message
            try:
                with self._lock:
                    _write_all(fd, _HEADER.pack(_KINDS.index(kind), index, len(payload)))
                    _write_all(fd, payload)
            except OSError:  # the parent is gone (its end of the pipe closed)
                return

    # -- in the parent
    def started(self) -> None:
        """Once the workers have started: drop this process's writing end (so that the pipe
        ends when they all have exited) and read without blocking."""
        self._writer.close()
        os.set_blocking(self._reader.fileno(), False)

    def receive(self, timeout: float) -> Optional[Tuple[str, int, bytes]]:
        """The next whole message, or None if none is complete within ``timeout`` seconds
        or the pipe has ended (the workers' exit statuses then tell why)."""
        from multiprocess.connection import wait

        deadline = time.monotonic() + timeout
        while True:
            message = self._take()
            if message is not None:
                return message
            left = deadline - time.monotonic()
            if self.eof or left <= 0 or not wait([self._reader], left):
                return None
            try:
                chunk = os.read(self._reader.fileno(), _READ_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                self.eof = True
            self._buffer += chunk

    def _take(self) -> Optional[Tuple[str, int, bytes]]:
        if len(self._buffer) < _HEADER.size:
            return None
        kind, index, size = _HEADER.unpack_from(self._buffer)
        end = _HEADER.size + size
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[_HEADER.size:end])
        del self._buffer[:end]
        return _KINDS[kind], index, payload

    def close(self) -> None:
        for end in (self._reader, self._writer):
            end.close()


def _worker_main(task_q, results, func, merge, initializer, initargs, parent_pid) -> None:
    """Entry of a worker process: ignore SIGINT, then run :func:`_worker_loop` in a thread.

    The thread is there for memory, not concurrency: glibc's malloc serves a new
    thread from a fresh arena, so the C buffers of the work (numpy arrays, POT's
    solver) land on private pages, not on the free lists of the heap a forked
    worker shares copy-on-write with its parent, where each first write to a
    page copies it (measured: about 15 ms less per worker on 5,000 STS pairs).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's own handler is not for workers
    _unblock_stop_signals()  # blocked by the parent around the fork (_Workers.__init__)
    _die_with_parent(parent_pid)
    finished: list = []
    thread = threading.Thread(target=_worker_loop, args=(task_q, results, func, merge, initializer, initargs,
                                                         finished), name="textkit-worker", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(_POLL_SECONDS * 4)
        if os.getppid() != parent_pid:  # the parent is gone (the loop may be stuck on a cut message)
            os._exit(1)
    if not finished:  # the loop died without reaching its stop signal, e.g. out of memory while
        os._exit(1)   # reporting an error: a non-zero status tells the parent (_Workers.get)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _block_stop_signals():
    """Block SIGINT and SIGTERM in this thread; the previous mask (None where there are no masks)."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _restore_signal_mask(mask) -> None:
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextmanager
def _stop_signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait while the block runs (the workers fork), then act as usual.

    One acted on during a fork would be raised inside a fork hook of the parent,
    which ignores it (the run would go on), and a new worker must not meet one
    before it has set its own handlers (it inherits the parent's, which raise).
    Two holds, since blocking alone is not enough in the parent: a signal sent to
    the process goes to any thread that does not block it (OpenBLAS keeps threads
    of its own), and Python then runs the handler in the main thread all the same.

    * The signals are blocked in this thread, and so in every worker forked here,
      until the worker has set its own handlers (:func:`_worker_main`).
    * In the main thread, the handlers only note the signal meanwhile; once the
      block is done the usual handlers are back and each noted signal is raised
      again, here.
    """
    noted: List[int] = []
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in _STOP_SIGNALS:
            if signal.getsignal(sig) is not None:  # None: a handler set outside Python, left alone
                saved[sig] = signal.signal(sig, lambda signum, frame: noted.append(signum))
    mask = _block_stop_signals()
    try:
        yield
    finally:
        _restore_signal_mask(mask)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(noted):
            signal.raise_signal(sig)


def _unblock_stop_signals() -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this worker when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``).

    A parent killed while writing a task leaves half a message in the pipe, and a
    worker blocked on it, or on flushing results nobody reads, would never exit;
    the parent-death signal ends it whatever it is doing.  Elsewhere (or if the
    call fails) the watch in :func:`_worker_main` remains.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # it died before the call
        os._exit(1)


def _worker_loop(task_q, results: _ResultChannel, func, merge, initializer, initargs, finished: list) -> None:
    """Loop of one worker: take (index, payload) tasks until a None sentinel (its main
    thread, :func:`_worker_main`, watches the parent meanwhile); ``finished`` gets an
    item once the loop has ended as it should (at the sentinel, or having reported an error)."""
    try:
        if initializer is not None:
            initializer(*initargs)
        acc: Any = None
        have = False
        while True:
            task = task_q.get()
            if task is None:
                break
            index, payload = task
            out = func(pickle.loads(payload))
            if merge is None:
                results.send("ok", index, pickle.dumps(out, protocol=_PROTOCOL))
            else:
                acc = merge(acc, out) if have else out
                have = True
                results.send("ack", index, b"")
        if merge is not None:
            results.send("final", int(have), pickle.dumps(acc, protocol=_PROTOCOL))
        results.flush()
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
        try:
            results.send("error", -1, pickle.dumps(_describe_error(exc), protocol=_PROTOCOL))
            results.flush()
        except BaseException:  # noqa: BLE001 - not even that works (out of memory: no thread to
            return             # send it): the worker's exit status tells the parent
    finished.append(True)


class _Workers:
    """A set of worker processes with a task queue and a result channel (:class:`_ResultChannel`)."""

    def __init__(self, n, func, merge, initializer, initargs):
        if n > MAX_WORKERS:  # a library caller's workers= (the CLI's -j went through resolve_workers)
            raise UsageError(f"workers must be at most {MAX_WORKERS}, got {n}")
        ctx = _context()
        # Objects that exist now are shared with forked workers copy-on-write; keep the
        # cyclic GC from writing to (and so copying) their pages in the workers.
        gc.freeze()
        self.task_q = ctx.Queue()
        self.results = _ResultChannel(ctx)
        # When a run is cut short (Ctrl-C, a worker error) the workers are terminated while
        # the queue's feeder thread may still be writing: let it stop without a traceback.
        self.task_q._ignore_epipe = True
        self.finished = False
        self.closed = False
        self.procs = [
            ctx.Process(
                target=_worker_main,
                args=(self.task_q, self.results, func, merge, initializer, initargs, os.getpid()),
                daemon=True,
            )
            for _ in range(n)
        ]
        with _stop_signals_held():
            for p in self.procs:
                p.start()
        self.results.started()

    def put(self, index: int, item: Any) -> None:
        self.task_q.put((index, pickle.dumps(item, protocol=_PROTOCOL)))

    def get(self) -> Tuple[str, int, bytes]:
        """Next message from a worker; raises on a worker error or death."""
        while True:
            message = self.results.receive(_POLL_SECONDS)
            if message is None:
                if self.results.eof:  # every worker has closed its end: wait for their exit statuses
                    for p in self.procs:
                        p.join(timeout=1.0)
                dead = [p for p in self.procs if p.exitcode not in (None, 0)]
                if dead:
                    code = dead[0].exitcode
                    how = f"signal {-code}" if code < 0 else f"exit status {code}"
                    raise WorkerError(f"a worker process died ({how}); out of memory?") from None
                if self.results.eof:  # every worker has exited, and none said why
                    raise WorkerError("the worker processes ended before answering")
                continue
            kind, index, payload = message
            if kind == "error":
                raise _rebuild_error(*pickle.loads(payload))
            return kind, index, payload

    def finish(self) -> None:
        """Tell every worker to stop once the queued tasks are done."""
        if not self.finished:
            self.finished = True
            for _ in self.procs:
                self.task_q.put(None)

    def release(self) -> None:
        """After the last answer: tell the workers to stop and return without waiting for them.

        Every task has been answered, so each worker is idle and exits on its
        stop signal; the process teardown (a few ms for a large parent) then
        overlaps with the caller's next step.  Only the task queue's feeder
        thread is waited for, while it writes the stop signals; ``multiprocess``
        reaps the exited workers.
        """
        self.finish()
        self.task_q.close()
        self.results.close()
        # The feeder thread has only the stop signals left to write (every task was read):
        # wait for it, so that no thread of this run is alive when the next pool forks
        # (Python 3.12+ warns of it; a lock held by a thread at fork would stay held in the child).
        self.task_q.join_thread()
        self.closed = True

    def abort(self) -> None:
        """After an error or an interruption: terminate the workers at once.

        Nothing goes through the queues: the interruption may have come while this
        process held a queue's lock, and a stop message would then wait on it for ever.
        """
        if not self.closed:
            self._terminate()

    def close(self) -> None:
        """Let idle workers exit (an abandoned iterator has not said stop), terminate busy ones."""
        if self.closed:
            return
        self.finish()
        for p in self.procs:
            if p.is_alive():
                p.join(timeout=0.05 if p.exitcode is None else 0)
        self._terminate()

    def _terminate(self) -> None:
        """Terminate the workers still running, wait for them, and let the queues go."""
        self.closed = True
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(timeout=5)
        self.task_q.cancel_join_thread()
        _close_queue(self.task_q)
        self.results.close()
        # The feeder thread ends once it has written what is left, at once unless the pipe
        # is full (nobody reads it now): give it a moment, so that the next pool forks
        # without it in the usual case, but never hang on it.
        feeder = getattr(self.task_q, "_thread", None)
        if feeder is not None:
            feeder.join(timeout=0.2)


def _close_queue(q) -> None:
    """Close ``q`` after an interruption, unless this process holds its buffer's lock for good.

    Ctrl-C can land inside this thread's ``put``, after the lock was taken and before the
    block that frees it: the lock stays held, and ``close`` (now, or its finalizer at exit)
    would wait for it for ever.  The feeder thread holds it only for an instant, so a lock
    still taken after a short wait is the lost one: the queue is then left unclosed (its
    feeder thread is a daemon, gone with the process) and its exit-time close dropped.
    """
    notempty = getattr(q, "_notempty", None)  # multiprocess's Queue: a Condition over its buffer
    if notempty is not None:
        if not notempty.acquire(timeout=0.2):
            closer, q._close = getattr(q, "_close", None), None
            if closer is not None:
                closer.cancel()  # taken off the finalizers run at exit
            return
        notempty.release()
    q.close()


def chunks(items: Iterable[Any], size: int) -> Iterator[List[Any]]:
    """Lists of up to ``size`` consecutive items (batches of work), read lazily."""
    it = iter(items)
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


def _prefetch(items: Iterable[Any]) -> Tuple[List[Any], Iterator[Any]]:
    """The first two items (fewer if the input is shorter) and the rest."""
    it = iter(items)
    head = []
    for _ in range(2):
        try:
            head.append(next(it))
        except StopIteration:
            break
    return head, it


def _chain(head: List[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from head
    yield from rest


class Pool:
    """Worker processes that run ``func`` over several inputs in turn (see :meth:`imap`).

    The processes start on the first :meth:`imap` that has two items or more,
    or earlier with :meth:`start` (e.g. before reading an input, so that their
    start overlaps with the reading), and then serve every later :meth:`imap`:
    one fork, and caches that workers fill stay warm from one input to the
    next.  With ``workers=1``, or while no process has started and an input
    has fewer than two items, ``func`` runs in this process (after
    ``initializer``, once).  Use it as a context manager: leaving the block
    lets idle workers go, or terminates them after an error.
    """

    def __init__(self, func: Callable[[Any], Any], *, workers: int = 1,
                 initializer: Optional[Callable[..., None]] = None, initargs: tuple = (),
                 window: Optional[int] = None):
        self.func = func
        self.workers = workers
        self.initializer = initializer
        self.initargs = initargs
        self.window = window or 3 * workers
        self._procs: Optional[_Workers] = None
        self._ready_here = False  # initializer has run in this process
        self._submitted = 0  # tasks sent over all inputs (their indices)

    @property
    def started(self) -> bool:
        """Whether the worker processes are running (an :meth:`imap` then uses them, whatever its length)."""
        return self._procs is not None

    def start(self) -> "Pool":
        """Start the worker processes now (no-op with one worker or when started)."""
        if self.workers > 1 and self._procs is None:
            self._procs = _Workers(self.workers, self.func, None, self.initializer, self.initargs)
        return self

    def imap(self, items: Iterable[Any]) -> Iterator[Any]:
        """``func(item)`` for each item, yielded in input order.

        Run it to its end (or close it) before the next :meth:`imap`; an
        iterator left before its end closes the pool.
        """
        head, rest = _prefetch(items)
        if self._procs is None and (self.workers <= 1 or len(head) < 2):
            if self.initializer is not None and not self._ready_here:
                self.initializer(*self.initargs)
                self._ready_here = True
            for item in _chain(head, rest):
                yield self.func(item)
            return
        procs = self.start()._procs
        assert procs is not None
        try:
            source = _chain(head, rest)
            pending = {}
            submitted = done = self._submitted
            exhausted = False
            while True:
                while not exhausted and submitted - done < self.window:
                    try:
                        item = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    procs.put(submitted, item)
                    submitted += 1
                self._submitted = submitted
                if exhausted and done == submitted:
                    break
                while done not in pending:
                    _, index, payload = procs.get()
                    pending[index] = payload
                yield pickle.loads(pending.pop(done))
                done += 1
        except GeneratorExit:  # left before its end (zip, break): idle workers are told to stop
            self.close()
            raise
        except BaseException:  # an error or an interruption
            self.abort()
            raise

    def release(self) -> None:
        """Let the workers go once all is answered, without waiting for them (see _Workers.release)."""
        if self._procs is not None:
            self._procs.release()
            self._procs = None

    def close(self) -> None:
        """Stop the workers: idle ones exit, busy ones are terminated."""
        if self._procs is not None:
            procs, self._procs = self._procs, None
            procs.close()

    def abort(self) -> None:
        """Terminate the workers at once (after an error or an interruption)."""
        if self._procs is not None:
            procs, self._procs = self._procs, None
            procs.abort()

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.release()
        elif issubclass(exc_type, GeneratorExit):
            self.close()
        else:
            self.abort()


def imap(
    func: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    workers: int = 1,
    initializer: Optional[Callable[..., None]] = None,
    initargs: tuple = (),
    window: Optional[int] = None,
) -> Iterator[Any]:
    """``func(item)`` for each item, yielded in input order (see the module docstring)."""
    with Pool(func, workers=workers, initializer=initializer, initargs=initargs, window=window) as pool:
        yield from pool.imap(items)


_IN_PROCESS_RUNS = threading.RLock()


@contextmanager
def exclusive() -> Iterator[None]:
    """Hold off the other threads' runs whose tasks read state an initializer set up.

    Initializers keep what tasks need in module-level state (set per worker
    process); a run in this process (one worker, or one item) sets it here, so
    two threads running at once would read each other's.  Such runs take this
    lock (:func:`map_reduce` does it for them; a caller consuming :func:`imap`
    in full wraps the loop).  The GIL lets only one of them compute at a time
    anyway.
    """
    with _IN_PROCESS_RUNS:
        yield


def map_reduce(
    func: Callable[[Any], Any],
    merge: Callable[[Any, Any], Any],
    items: Iterable[Any],
    *,
    workers: int = 1,
    initializer: Optional[Callable[..., None]] = None,
    initargs: tuple = (),
    window: Optional[int] = None,
) -> Any:
    """``merge`` of ``func(item)`` over all items; None for no items."""
    head, rest = _prefetch(items)
    if workers <= 1 or len(head) < 2:
        with exclusive():
            if initializer is not None:
                initializer(*initargs)
            acc: Any = None
            have = False
            for item in _chain(head, rest):
                out = func(item)
                acc = merge(acc, out) if have else out
                have = True
            return acc
    window = window or 3 * workers
    pool = _Workers(workers, func, merge, initializer, initargs)
    try:
        submitted = done = 0
        for item in _chain(head, rest):
            while submitted - done >= window:
                pool.get()  # an "ack"
                done += 1
            pool.put(submitted, item)
            submitted += 1
        pool.finish()
        partials = []
        while len(partials) < len(pool.procs):
            kind, have, payload = pool.get()
            if kind == "final" and have:
                partials.append(pickle.loads(payload))
            elif kind == "final":
                partials.append(None)
        pool.release()
        acc = None
        have_acc = False
        for part in partials:
            if part is None:
                continue
            acc = merge(acc, part) if have_acc else part
            have_acc = True
        return acc
    except BaseException:  # an error or an interruption
        pool.abort()
        raise
