"""The worker pool: order, exact reduce, bounded read-ahead, errors, in-process mode."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from textkit import pool
from textkit.errors import CorpusError, UsageError, WorkerError


def square(x):
    return x * x


def pid_of(_):
    return os.getpid()


def letters(word):
    return Counter(word)


def add(a, b):
    a.update(b)
    return a


def fail_on_seven(x):
    if x == 7:
        raise ValueError("seven is not allowed")
    return x


def textkit_fail(x):
    raise CorpusError(f"bad record {x}")


def die(x):
    os._exit(3)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_imap_keeps_input_order(workers):
    assert list(pool.imap(square, range(50), workers=workers)) == [x * x for x in range(50)]


@pytest.mark.parametrize("workers", [1, 2])
def test_map_reduce_equals_serial(workers):
    words = ["中文分词", "abc", "统计", "aaa"] * 30
    assert pool.map_reduce(letters, add, words, workers=workers) == Counter("".join(words))


def test_map_reduce_of_nothing_is_none():
    assert pool.map_reduce(letters, add, [], workers=2) is None


def test_workers_one_runs_in_process():
    assert set(pool.imap(pid_of, range(5), workers=1)) == {os.getpid()}
    assert os.getpid() not in set(pool.imap(pid_of, range(10), workers=2))


def test_abandoned_iterator_lets_idle_workers_exit_cleanly(monkeypatch):
    """zip() or a break stops consuming before the end: the workers are told to stop, not killed."""
    started = []
    original = pool._Workers.__init__

    def record(self, *args):
        original(self, *args)
        started.append(self)

    monkeypatch.setattr(pool._Workers, "__init__", record)
    results = pool.imap(square, range(6), workers=2)
    assert [r for _, r in zip(range(6), results)] == [x * x for x in range(6)]  # the generator is left open
    results.close()
    (workers,) = started
    assert [p.exitcode for p in workers.procs] == [0, 0]  # not -15: they exited on their own


def test_read_ahead_is_bounded():
    pulled = []

    def source():
        for i in range(1000):
            pulled.append(i)
            yield i

    results = pool.imap(square, source(), workers=2, window=4)
    for i, value in enumerate(results):
        assert value == i * i
        # never more than the window (plus the two items peeked to decide on a pool) ahead
        assert len(pulled) - (i + 1) <= 4 + 2
        if i == 20:
            break
    results.close()


def test_worker_exception_reaches_the_caller():
    with pytest.raises(WorkerError, match="ValueError: seven is not allowed"):
        list(pool.imap(fail_on_seven, range(20), workers=2))
    with pytest.raises(WorkerError, match="seven"):
        pool.map_reduce(fail_on_seven, max, range(20), workers=2)


def test_textkit_errors_keep_their_type():
    with pytest.raises(CorpusError, match="bad record"):
        list(pool.imap(textkit_fail, range(4), workers=2))


def test_dead_worker_is_reported():
    with pytest.raises(WorkerError, match="died"):
        list(pool.imap(die, range(4), workers=2))


def square_and_pid(x):
    return x * x, os.getpid()


def test_pool_serves_several_inputs_with_one_set_of_workers():
    import multiprocess

    with pool.Pool(square_and_pid, workers=2, window=3) as p:
        p.start()
        started = {child.pid for child in multiprocess.active_children()}
        assert len(started) >= 2
        first = list(p.imap(range(10)))
        second = list(p.imap(range(5, 8)))
        single = list(p.imap([4]))  # one item: still the workers, they are running
        assert [r for r, _ in first] == [x * x for x in range(10)]
        assert [r for r, _ in second] == [25, 36, 49]
        assert [r for r, _ in single] == [16]
        pids = {pid for _, pid in first + second + single}
        assert os.getpid() not in pids and pids <= started and len(pids) <= 2  # the same two
    deadline = time.monotonic() + 10
    while multiprocess.active_children() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not multiprocess.active_children()  # released: they exited on their own


def test_pool_left_before_the_end_closes_and_starts_again_on_need():
    with pool.Pool(square_and_pid, workers=2) as p:
        results = p.imap(range(20))
        assert next(results)[0] == 0
        results.close()  # left before its end: the pool closes
        assert {pid for _, pid in p.imap([3])} == {os.getpid()}  # no workers now, one item: here
        again = list(p.imap(range(6)))  # two items or more: new workers
        assert [r for r, _ in again] == [x * x for x in range(6)]
        assert os.getpid() not in {pid for _, pid in again}
    with pool.Pool(square_and_pid, workers=1) as p:
        assert {pid for _, pid in p.start().imap(range(6))} == {os.getpid()}


def test_resolve_workers():
    assert pool.resolve_workers("auto") == pool.available_cores()
    assert pool.resolve_workers(0) == pool.available_cores()
    assert pool.resolve_workers("3") == 3
    with pytest.raises(UsageError):
        pool.resolve_workers(-1)
    with pytest.raises(UsageError):
        pool.resolve_workers("many")
    assert pool.resolve_workers(pool.MAX_WORKERS) == pool.MAX_WORKERS
    for typo in (pool.MAX_WORKERS + 1, "99999999999999999999999"):  # built a list of that many processes
        with pytest.raises(UsageError, match="at most"):
            pool.resolve_workers(typo)
    with pytest.raises(UsageError, match="at most"):
        list(pool.imap(abs, [1, 2, 3], workers=10**22))


def test_a_finished_run_leaves_no_thread_for_the_next_fork():
    # Python 3.12+ warns (and a lock held by a thread may deadlock a child) when a process
    # forks while another thread runs: a finished run's queue feeder thread must be gone
    import threading

    before = set(threading.enumerate())

    def stopped_early():
        results = pool.imap(square, range(10), workers=2)
        next(results)
        results.close()

    def failed():
        with pytest.raises(WorkerError):
            list(pool.imap(fail_on_seven, range(20), workers=2))

    for run in (lambda: list(pool.imap(square, range(10), workers=2)),
                lambda: pool.map_reduce(letters, add, ["ab", "cd"] * 5, workers=2), stopped_early, failed):
        for _ in range(5):
            run()
            assert [t.name for t in threading.enumerate() if t not in before] == []


class _Unprintable(Exception):
    def __str__(self):
        raise MemoryError("no memory left to describe the error")


def fail_beyond_words(x):
    if x == 3:
        raise _Unprintable()
    return x


def _run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` run by a new interpreter from the repository root: a hang fails the test (60 s)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])


def test_a_worker_that_cannot_report_its_error_is_reported_dead():
    # out of memory, a worker could not even send its error: it ended with status 0 and the
    # parent waited for ever. Run in a child process, so that a hang fails the test
    code = ("import sys; sys.path.insert(0, '.')\n"
            "from tests.test_pool import fail_beyond_words\n"
            "from textkit import pool\n"
            "from textkit.errors import WorkerError\n"
            "try:\n"
            "    list(pool.imap(fail_beyond_words, range(8), workers=2))\n"
            "except WorkerError as exc:\n"
            "    print(exc)\n")
    done = _run_python(code)
    assert done.stdout.startswith("a worker process died (exit status 1)") and done.stderr == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks")
def test_abort_after_an_interrupt_inside_put_does_not_hang():
    """Ctrl-C landing inside put(), after the queue's lock was taken, leaves the lock held:
    stopping the workers, and the process's exit, must not wait for it (seen: a hang under load)."""
    script = (
        "from textkit.pool import _Workers\n"
        "workers = _Workers(1, abs, None, None, ())\n"
        "workers.put(0, -1)  # the feeder thread is running\n"
        "workers.task_q._notempty.acquire()  # what the interrupted put leaves behind\n"
        "workers.abort()\n"
        "print('stopped')\n")
    done = _run_python(script)
    assert done.returncode == 0 and done.stdout == "stopped\n", done.stderr


def test_workers_killed_while_answering_are_reported_not_waited_for():
    """The out-of-memory killer may stop a worker halfway through writing an answer: the parent
    reports the death (a reader of whole messages waited for the missing bytes for ever)."""
    done = _run_python(
        "import os, signal, time, multiprocess\n"
        "from textkit import pool\n"
        "from textkit.errors import WorkerError\n"
        "def big(i):\n"
        "    return b'x' * 8_000_000\n"
        "answers = pool.imap(big, range(8), workers=2)\n"
        "next(answers)  # the workers have started and go on answering into a pipe nobody reads\n"
        "time.sleep(1.5)\n"
        "for child in multiprocess.active_children():\n"
        "    os.kill(child.pid, signal.SIGKILL)\n"
        "try:\n"
        "    list(answers)\n"
        "except WorkerError as exc:\n"
        "    print(exc)\n")
    assert done.returncode == 0 and "a worker process died (signal 9)" in done.stdout
