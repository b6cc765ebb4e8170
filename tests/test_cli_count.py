"""`textkit count` / `textkit merge` as a user runs them: formats, exit codes, pipes, signals."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import run_main, run_textkit


def rows(stdout: bytes):
    return [line.split("\t") for line in stdout.decode("utf-8").splitlines()]


def test_count_sample_tsv_and_identical_for_any_workers(sample_path):
    one = run_textkit("count", sample_path, "-j1")
    two = run_textkit("count", sample_path, "-j2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr
    assert one.stdout == two.stdout
    table = rows(one.stdout)
    assert table[0] == ["的", str(int(table[0][1]))]
    counts = [int(c) for _, c in table]
    assert counts == sorted(counts, reverse=True)
    assert one.stderr == b""  # no jieba chatter, no warnings


def test_quick_exit_of_the_program_loses_no_output(tmp_path, sample_path):
    """The program ends with os._exit after flushing (cli.main.run): its output is whole.

    Compared with main() run in this process, which exits normally: all of stdout
    (about 10k lines through a pipe), an -o file, and the warnings on stderr.
    """
    process = run_textkit("count", sample_path, "--format", "jsonl")
    code, out, _ = run_main("count", sample_path, "--format", "jsonl")
    assert process.returncode == code == 0 and process.stdout.decode() == out
    assert len(out.splitlines()) > 5000
    target = tmp_path / "c.tsv"
    assert run_textkit("count", sample_path, "-o", target).returncode == 0
    assert target.read_text(encoding="utf-8") == run_main("count", sample_path)[1]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\n\xff\n")
    process = run_textkit("count", bad)
    assert process.returncode == 0 and b"invalid utf-8" in process.stderr and process.stdout == "ok\t1\n".encode()


def test_stdin_dash_and_compressed(sample_path):
    raw = sample_path.read_bytes()
    plain = run_textkit("count", "-", "--top", "5", input=raw)
    packed = run_textkit("count", "--top", "5", input=gzip.compress(raw))
    assert plain.returncode == 0 and plain.stdout == packed.stdout
    assert len(rows(plain.stdout)) == 5


def test_formats_header_df_and_filters():
    text = "今天天气不错。\n今天不错，不错！\n".encode("utf-8")
    tsv = run_textkit("count", "--header", "--df", input=text)
    # jieba keeps 今天天气 as one dictionary word
    assert rows(tsv.stdout) == [["word", "count", "df"], ["不错", "3", "2"], ["今天", "1", "1"],
                                ["今天天气", "1", "1"]]
    jsonl = run_textkit("count", "--format", "jsonl", "--min-count", "1", "--top", "2", input=text)
    assert [json.loads(x) for x in jsonl.stdout.decode().splitlines()] == [
        {"word": "不错", "count": 3}, {"word": "今天", "count": 1}]
    assert run_textkit("count", "--min-count", "2", input=text).stdout.decode() == "不错\t3\n"
    csv_out = run_textkit("count", "--format", "csv", "--top", "1", input=text)
    assert csv_out.stdout.decode().splitlines() == ["word,count", "不错,3"]
    chars = run_textkit("count", "--tokenizer", "char", "--top", "1", input=text)
    assert rows(chars.stdout) == [["不", "3"]]


def test_empty_input_gives_empty_output():
    result = run_textkit("count", input=b"")
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b""


def test_missing_file_one_line_exit_1(tmp_path):
    result = run_textkit("count", tmp_path / "missing.txt")
    assert result.returncode == 1 and result.stdout == b""
    err = result.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "missing.txt: no such file" in err[0]


def test_usage_errors_exit_2():
    assert run_textkit("count", "--top", "0", input=b"").returncode == 2
    assert run_textkit("count", "-j", "-3", input=b"").returncode == 2
    assert run_textkit("count", "--format", "xml", input=b"").returncode == 2
    assert run_textkit("count", "--cut-all", "--search", input=b"").returncode == 2


@pytest.mark.parametrize("args, says", [
    (["count", "--format", "xml"], "Invalid value for '--format'"),
    (["count", "--topp", "3"], "--topp"),  # click's wording varies: "No such option: --topp", "... '--topp'"
    (["cont"], "No such command 'cont'"),
    (["count", "--cut-all", "--search"], "--cut-all and --search are exclusive"),
    (["count", "--tokenizer", "char", "--user-dict", "d.txt"], "--user-dict is used only with --tokenizer jieba"),
    (["embed", "--tokenizer", "whitespace", "--no-hmm"], "--no-hmm is used only with --tokenizer jieba"),
    (["count", "--cut-all", "--no-hmm"], "--no-hmm does nothing with --cut-all"),
    (["search", "w", "--corpus", "README.md", "-k", "0"], "0 is not in the range x>=1"),
    (["sim", "a", "b", "--metric", "cosine", "--oov", "error"], "--oov and --sinkhorn apply to --metric wrd"),
    (["count", "-o"], "Option '-o' requires an argument"),  # click raises it without the command
    (["sim", "a", "b", "--metric"], "Option '--metric' requires an argument"),
])
def test_usage_errors_are_one_line_naming_the_help(args, says):
    code, out, err = run_main(*args)
    command = "textkit" if args == ["cont"] else f"textkit {args[0]}"
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("textkit: error: ") and says in err
    assert err.rstrip().endswith(f"(see '{command} --help')")


@pytest.mark.parametrize("args", [[], ["vectors"]])
def test_a_group_without_its_command_shows_its_help(args):
    code, out, err = run_main(*args)
    assert code == 2 and out == ""
    assert err.startswith(f"Usage: textkit {' '.join(args)}".rstrip() + " [OPTIONS] COMMAND") and "Commands:" in err


def test_invalid_utf8_warns_and_counts(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes("你好\n".encode() + b"\xff\xfe\n" + "你好\n".encode())
    result = run_textkit("count", path)
    assert result.returncode == 0
    assert rows(result.stdout) == [["你好", "2"]]
    err = result.stderr.decode()
    assert f"{path}:2: invalid utf-8" in err and "1 line held invalid utf-8" in err
    assert run_textkit("count", "--quiet", path).stderr == b""
    strict = run_textkit("count", "--strict", path)
    assert strict.returncode == 1 and "bad.txt:2" in strict.stderr.decode()


def test_truncated_gzip_keeps_old_output(tmp_path, sample_path):
    out = tmp_path / "counts.tsv"
    out.write_text("old\t1\n", encoding="utf-8")
    blob = gzip.compress(sample_path.read_bytes())
    cut = tmp_path / "cut.txt.gz"
    cut.write_bytes(blob[: len(blob) * 2 // 3])
    result = run_textkit("count", cut, "-o", out)
    assert result.returncode == 1
    assert "cut.txt.gz: truncated or corrupt" in result.stderr.decode()
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert out.read_text(encoding="utf-8") == "old\t1\n"
    assert sorted(os.listdir(tmp_path)) == ["counts.tsv", "cut.txt.gz"]  # no temp left


def test_output_file_written_atomically(tmp_path, sample_path):
    out = tmp_path / "c.tsv"
    result = run_textkit("count", sample_path, "-o", out, "--top", "3")
    assert result.returncode == 0 and result.stdout == b""
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    missing_dir = run_textkit("count", sample_path, "-o", tmp_path / "no" / "c.tsv")
    assert missing_dir.returncode == 1 and b"does not exist" in missing_dir.stderr


def test_binary_file_and_empty_directory(tmp_path):
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    result = run_textkit("count", binary)
    assert result.returncode == 1 and b"binary" in result.stderr
    only_binary = tmp_path / "d"
    only_binary.mkdir()
    (only_binary / "x.bin").write_bytes(b"\x00" * 100)
    result = run_textkit("count", only_binary)
    assert result.returncode == 1 and b"no text files" in result.stderr


def test_fifty_megabyte_single_line(tmp_path):
    path = tmp_path / "one-line.txt"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("苹果 香蕉 " * 4_500_000)  # 54 MB, no newline at all
    result = run_textkit("count", path, "--tokenizer", "whitespace", timeout=300)
    assert result.returncode == 0, result.stderr
    assert rows(result.stdout) == [["苹果", "4500000"], ["香蕉", "4500000"]]


def test_worker_exception_is_one_line(monkeypatch, tmp_path):
    import textkit.counting as counting

    from .conftest import run_main

    real = counting.count_batch

    def flaky(task):  # fails inside a worker, on the batch holding the marker line
        if any("炸弹" in doc for doc in task[2]):
            raise RuntimeError("boom in a worker")
        return real(task)

    monkeypatch.setattr(counting, "count_batch", flaky)
    data = tmp_path / "c.txt"
    data.write_text("今天天气不错\n" * 20_000 + "炸弹\n" + "不错\n" * 20_000, encoding="utf-8")
    out = tmp_path / "out.tsv"
    out.write_text("old\n", encoding="utf-8")
    code, stdout, stderr = run_main("count", "-j2", data, "-o", out)
    assert code == 1 and stdout == ""
    assert stderr.strip().splitlines() == ["textkit: error: a worker failed: RuntimeError: boom in a worker"]
    assert out.read_text(encoding="utf-8") == "old\n"
    stop = tmp_path / "stop.txt"
    stop.write_bytes(b"\xff\xfe not utf-8\n")  # a bad option file: one line too
    result = run_textkit("count", "-j2", "--stopwords", stop, input="今天\n".encode())
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [
        f"textkit: error: {stop}:1: not valid utf-8 (invalid start byte at byte 1 of the line)"]


def test_word_lists_and_user_dictionaries_are_read_compressed_too(tmp_path):
    """--stopwords and --user-dict are side files read like every other (open_text): gzip works."""
    data = tmp_path / "d.txt"
    data.write_text("今天下雨了吗\n今天下雨\n", encoding="utf-8")
    plain_stop, gz_stop = tmp_path / "stop.txt", tmp_path / "stop.txt.gz"
    plain_stop.write_text("今天\n", encoding="utf-8")
    gz_stop.write_bytes(gzip.compress(plain_stop.read_bytes()))
    plain_dict, gz_dict = tmp_path / "u.txt", tmp_path / "u.gz"
    plain_dict.write_text("下雨了吗 1000\n", encoding="utf-8")
    gz_dict.write_bytes(gzip.compress(plain_dict.read_bytes()))
    for stop, user in ((plain_stop, plain_dict), (gz_stop, gz_dict)):
        code, out, err = run_main("count", data, "--stopwords", stop, "--user-dict", user)
        assert code == 0 and out == "下雨\t1\n下雨了吗\t1\n", err


def test_sigpipe_is_quiet(sample_path):
    for workers in ("-j1", "-j2"):
        proc = subprocess.run(
            ["bash", "-c", f"{sys.executable} -m textkit count {sample_path} {workers} --tokenizer char"
             " | head -2; exit ${PIPESTATUS[0]}"],
            capture_output=True, timeout=120,
        )
        assert len(proc.stdout.splitlines()) == 2
        assert proc.stderr == b""
        assert proc.returncode == 0


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return fh.read().split()
    except OSError:
        return []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and signals")
def test_ctrl_c_exits_130_without_traceback_or_strays(tmp_path, sample_lines):
    proc, workers = _busy_count(tmp_path, sample_lines)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"Traceback" not in err and err.decode() == "textkit: interrupted\n"  # no blank line before it
    assert not _alive_after(workers)


def _alive(pids):
    """The processes of ``pids`` still running (zombies, already exited, do not count)."""
    alive = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split()[2] != "Z":
                    alive.append(pid)
        except OSError:
            pass
    return alive


def _alive_after(pids, seconds=5.0):
    """The processes of ``pids`` still running once they have had ``seconds`` to end (a loaded machine is slow)."""
    deadline = time.time() + seconds
    while _alive(pids) and time.time() < deadline:
        time.sleep(0.05)
    return _alive(pids)


def _busy_count(tmp_path, sample_lines, *extra):
    """A `count -j2` run long enough to be stopped mid-way, once its two workers are up."""
    data = tmp_path / "big.txt"
    with open(data, "w", encoding="utf-8") as fh:
        for i in range(30):
            fh.writelines(f"{i}{n}{line}\n" for n, line in enumerate(sample_lines))
    proc = subprocess.Popen([sys.executable, "-m", "textkit", "count", "-j2", str(data), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while len(_children(proc.pid)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert len(workers) >= 2
    return proc, workers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses fork hooks and signals")
@pytest.mark.parametrize("signame, status, says", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_stop_signal_while_workers_start_is_one_line(tmp_path, sample_lines, signame, status, says):
    """The signal comes in the middle of the first fork, and the new worker is slow to start, so
    the parent stops it before it has set its own signal handlers: seen under load, an interrupt
    was swallowed by a fork hook (the run went on to exit 0 with a traceback), or the worker,
    still holding the parent's handlers, printed a traceback; and blocking the signals in the
    forking thread alone did not hold them while another thread could take them."""
    data = tmp_path / "big.txt"
    with open(data, "w", encoding="utf-8") as fh:
        for i in range(30):
            fh.writelines(f"{i}{n}{line}\n" for n, line in enumerate(sample_lines))
    script = tmp_path / "race.py"
    script.write_text(
        "import os, signal, sys, threading, time\n"
        # a thread that does not block the signals, as OpenBLAS keeps: the kernel hands the
        # signal to it, and Python runs the handler in the main thread all the same
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "sent = []\n"
        "def before():\n"
        "    if not sent:\n"
        "        sent.append(1)\n"
        f"        os.kill(os.getpid(), signal.{signame})\n"
        "os.register_at_fork(before=before, after_in_child=lambda: time.sleep(0.3))\n"
        "sys.argv = ['textkit', 'count', '-j2', sys.argv[1], '-o', os.devnull]\n"
        "from textkit.cli import run\n"
        "run()\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(data)], capture_output=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert (done.returncode, done.stderr.decode()) == (status, f"textkit: {says}\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and signals")
def test_sigterm_stops_cleanly_like_ctrl_c(tmp_path, sample_lines):
    """cron, systemd and timeout send SIGTERM: one line, status 143, workers gone, -o untouched, no temporary."""
    out = tmp_path / "out" / "counts.tsv"
    out.parent.mkdir()
    out.write_text("yesterday\n", encoding="utf-8")
    proc, workers = _busy_count(tmp_path, sample_lines, "-o", str(out))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.decode() == "textkit: terminated\n"
    assert not _alive_after(workers)
    assert os.listdir(out.parent) == ["counts.tsv"] and out.read_text(encoding="utf-8") == "yesterday\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and signals")
def test_workers_do_not_outlive_a_killed_parent(tmp_path, sample_lines):
    """SIGKILL leaves no chance to clean up; the workers still end (parent-death signal), not block for ever."""
    proc, workers = _busy_count(tmp_path, sample_lines)
    proc.kill()
    proc.communicate(timeout=60)
    assert not _alive_after(workers, 10.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses prctl(PR_SET_CHILD_SUBREAPER)")
def test_no_worker_is_left_unreaped(sample_path, tmp_path):
    """Workers exit on their own after the last batch: textkit waits for them, so none becomes an
    orphaned zombie (here a subreaper adopts orphans: it would find them among its children)."""
    script = tmp_path / "adopt.py"
    script.write_text(
        "import ctypes, os, subprocess, sys, time\n"
        "ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER\n"
        "subprocess.run([sys.executable, '-m', 'textkit', 'count', sys.argv[1], '-j2', '-o', os.devnull],\n"
        "               check=True)\n"
        "time.sleep(0.5)\n"
        "try:\n"
        "    print(os.waitpid(-1, os.WNOHANG)[0])\n"
        "except ChildProcessError:\n"
        "    print('none')\n",
        encoding="utf-8",
    )
    big = tmp_path / "big.txt"
    big.write_bytes(sample_path.read_bytes() * 3)  # batches for both workers
    proc = subprocess.run([sys.executable, str(script), str(big)], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip() == "none"


def test_closed_standard_error_does_not_stop_the_work(sample_path):
    """2>&- (stderr closed at start): the notes have nowhere to go; the counts are still written."""
    want = run_textkit("count", sample_path).stdout
    proc = subprocess.run([sys.executable, "-m", "textkit", "count", str(sample_path)], stdout=subprocess.PIPE,
                          preexec_fn=lambda: os.close(2), timeout=120)  # as a shell's 2>&-
    assert proc.returncode == 0 and proc.stdout == want


def test_a_read_only_standard_error_is_treated_as_closed(sample_path, tmp_path):
    """A wrapper (pyenv's shim) may leave fd 2 open read-only on its own script: writes fail with EBADF."""
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe today\n")  # a warning to write
    want = run_textkit("count", bad).stdout
    script = tmp_path / "wrapper.sh"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    with open(script, "rb") as read_only:
        proc = subprocess.run([sys.executable, "-m", "textkit", "count", str(bad)],
                              stdout=subprocess.PIPE, stderr=read_only, timeout=120)
    assert proc.returncode == 0 and proc.stdout == want and want


def test_an_eof_error_escaping_a_reader_is_an_error_not_an_interruption(monkeypatch, tmp_path):
    """click reports EOFError as Ctrl-D ("Aborted!", or our "interrupted", 130): it is data ending early."""
    import textkit.cli.count as count_cli

    def cut_short(*args, **kwargs):
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")

    monkeypatch.setattr(count_cli, "count_words", cut_short)
    path = tmp_path / "a.txt"
    path.write_text("你好\n", encoding="utf-8")
    code, out, err = run_main("count", path)
    assert code == 1 and out == ""
    assert err == "textkit: error: input ended early (Compressed file ended before the end-of-stream marker " \
                  "was reached)\n"


@pytest.mark.parametrize("signal_cause, status, line", [("Terminated", 143, "terminated"),
                                                         ("KeyboardInterrupt", 130, "interrupted")])
def test_an_interruption_wrapped_by_a_c_extension_is_an_interruption(monkeypatch, tmp_path, signal_cause,
                                                                      status, line):
    """scipy's SVD turns Ctrl-C or SIGTERM in its Python callback into a SystemError (the signal as context)."""
    import textkit.cli as cli_package
    import textkit.cli.count as count_cli

    def svd_interrupted(*args, **kwargs):
        try:
            raise getattr(cli_package, signal_cause, KeyboardInterrupt)()
        except KeyboardInterrupt:
            raise SystemError("<built-in function slansvd> returned a result with an exception set")

    monkeypatch.setattr(count_cli, "count_words", svd_interrupted)
    path = tmp_path / "a.txt"
    path.write_text("你好\n", encoding="utf-8")
    code, out, err = run_main("count", path)
    assert (code, out, err) == (status, "", f"textkit: {line}\n")
    monkeypatch.setattr(count_cli, "count_words", lambda *a, **k: (_ for _ in ()).throw(SystemError("a bug")))
    with pytest.raises(SystemError):  # a SystemError of its own is a bug: not hidden as an interruption
        run_main("count", path)


def test_merge_sums_count_files(tmp_path):
    day1, day2 = tmp_path / "d1.tsv", tmp_path / "d2.tsv"
    day1.write_text("的\t3\n好\t1\n", encoding="utf-8")
    day2.write_text("好\t4\n", encoding="utf-8")
    result = run_textkit("merge", day1, day2)
    assert rows(result.stdout) == [["好", "5"], ["的", "3"]]
    bad = tmp_path / "bad.tsv"
    bad.write_text("的\tx\n", encoding="utf-8")
    result = run_textkit("merge", day1, bad)
    assert result.returncode == 1 and b"bad.tsv:1" in result.stderr
    assert run_textkit("merge").returncode == 2


def test_count_help_lists_options():
    result = run_textkit("count", "--help")
    assert result.returncode == 0 and b"--workers" in result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses a pseudo-terminal")
def test_progress_only_on_a_terminal(sample_path):
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "textkit", "count", "-j1", str(sample_path),
                               str(sample_path), str(sample_path)],
                              stdout=subprocess.PIPE, stderr=slave, timeout=120)
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert b" MB, " in shown and b" line" in shown and b"MB/s" in shown
    piped = run_textkit("count", "-j1", sample_path)
    assert piped.stderr == b""


def test_a_note_erases_the_progress_line_first(monkeypatch):
    """On a terminal a note written while progress is shown takes the line: the two never share one."""
    import io
    import logging

    from textkit.cli.options import configure_logging
    from textkit.output import Progress

    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    configure_logging()
    progress = Progress(True)
    progress(2_000_000, 10)
    logging.getLogger("textkit").warning("something to say")
    progress.close()
    drawn = screen.getvalue()
    line = "read 2.0 MB, 10 lines, "
    assert drawn.startswith("\r" + line) and "\x1b" not in drawn
    shown = drawn[1:drawn.index("\r", 1)]
    assert drawn.endswith(f"{shown}\r{' ' * len(shown)}\rtextkit: warning: something to say\n")
    assert drawn.endswith("say\n")  # erased already: nothing more to clear


def test_a_shorter_progress_line_covers_the_longer_one_before_it(monkeypatch):
    import io

    from textkit.output import Progress

    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    progress = Progress(True)
    progress(123_456_789_000, 9_876_543)
    first = screen.getvalue()
    progress._last = 0.0  # due for a redraw
    progress(1_000, 1)
    second = screen.getvalue()[len(first):]
    assert second.startswith("\rread 0.0 MB, 1 line, ") and len(second) == len(first)
    assert second.rstrip(" ").endswith("MB/s")
    progress.close()


def test_in_process_cli_reads_stdin_without_peek():
    from click.testing import CliRunner

    from textkit.cli.main import cli

    result = CliRunner().invoke(cli, ["count", "-"], input="今天天气不错\n不错\n".encode("utf-8"))
    assert result.exit_code == 0 and result.output.splitlines()[0] == "不错\t2"


def test_user_dict_honoured_by_every_worker(tmp_path):
    user = tmp_path / "user.txt"
    user.write_text("蓝莓芝士蛋糕 10\n", encoding="utf-8")
    data = tmp_path / "c.txt"
    # many batches, so that both workers count some of the lines holding the new word
    data.write_text("".join(f"第{i}行我爱吃蓝莓芝士蛋糕。\n" for i in range(60_000)), encoding="utf-8")
    with_dict = run_textkit("count", "-j2", "--user-dict", user, data)
    assert with_dict.returncode == 0, with_dict.stderr
    assert ["蓝莓芝士蛋糕", "60000"] in rows(with_dict.stdout)
    without = run_textkit("count", "-j2", data)
    assert "蓝莓芝士蛋糕" not in without.stdout.decode()


def _is_char_device(path):
    import stat

    return os.path.exists(path) and stat.S_ISCHR(os.stat(path).st_mode)


@pytest.mark.skipif(not _is_char_device("/dev/full"), reason="needs the /dev/full device")
def test_write_failure_is_one_line():
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "textkit", "count", "-"], input="今天\n".encode(),
                              stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().splitlines() == [
        "textkit: error: standard output: cannot write (No space left on device)"]
    proc = run_textkit("count", "-", "-o", "/dev/full", input="今天\n".encode())
    assert proc.returncode == 1
    assert proc.stderr.decode().strip().splitlines() == [
        "textkit: error: /dev/full: cannot write (No space left on device)"]


@pytest.mark.parametrize("name", ["counts.tsv", "counts.tsv.gz"])
def test_a_disk_full_while_writing_a_file_names_it_and_keeps_the_old_one(tmp_path, monkeypatch, name):
    import errno

    out = tmp_path / name
    out.write_text("old\n", encoding="utf-8")
    data = tmp_path / "a.txt"
    data.write_text("今天天气不错\n", encoding="utf-8")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, stdout, err = run_main("count", data, "-o", out)
    assert code == 1 and err == f"textkit: error: {out}: cannot write (No space left on device)\n"
    assert out.read_text(encoding="utf-8") == "old\n" and sorted(os.listdir(tmp_path)) == ["a.txt", name]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses RLIMIT_FSIZE")
@pytest.mark.parametrize("command", ["convert", "embed", "index", "whiten"])
def test_a_file_size_limit_names_the_output_of_every_writer(tmp_path, sample_path, command):
    """A write cut short (a full disk, ulimit -f) is one error naming the output, not a
    temporary file, and leaves nothing behind, for binary outputs (.npy, .npz, stores) too."""
    import resource

    vectors = tmp_path / "v.txt"
    rows = np.random.default_rng(0).standard_normal((300, 40))
    vectors.write_text("300 40\n" + "".join(f"w{i} " + " ".join(f"{x:.6f}" for x in row) + "\n"
                                              for i, row in enumerate(rows)), encoding="utf-8")
    out = tmp_path / "out" / {"convert": "store", "embed": "e.npy", "index": "i.npz", "whiten": "w.npz"}[command]
    out.parent.mkdir()
    args = {"convert": ["vectors", "convert", vectors], "embed": ["embed", sample_path],
            "index": ["search", "--corpus", sample_path, "--build-index"], "whiten": ["whiten", "fit", sample_path]}
    args = [*args[command], *([] if command == "index" else ["-o"]), out, "-q"]
    limit = 20_000  # bytes: the output needs more

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "textkit", *map(str, args)], capture_output=True, timeout=300,
                          preexec_fn=small_files, cwd=Path(__file__).resolve().parents[1])
    err = done.stderr.decode()
    assert done.returncode == 1 and err.startswith(f"textkit: error: {out}: cannot write") and err.count("\n") == 1
    assert os.listdir(out.parent) == []


@pytest.mark.parametrize("command", [["count"], ["discover"], ["embed"], ["sim", "--pairs"], ["eval"],
                                     ["search", "今天", "--corpus"]])
def test_an_output_that_is_also_an_input_is_refused(tmp_path, command):
    """`-o` naming the input would replace the text with its results: refused before any reading."""
    path = tmp_path / ("in.jsonl" if command == ["embed"] else "in.tsv")  # a name embed writes
    text = "今天天气不错\t今天天气很好\t1\n"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_main(*command, path, "-o", path)
    assert code == 2 and "is also an input" in err and path.read_text(encoding="utf-8") == text


def test_merge_may_write_over_one_of_its_inputs(tmp_path):
    """A running total: every input is read whole before the output replaces the first."""
    (tmp_path / "total.tsv").write_text("的\t5\n了\t1\n", encoding="utf-8")
    (tmp_path / "day.tsv").write_text("的\t2\n", encoding="utf-8")
    assert run_main("merge", tmp_path / "total.tsv", tmp_path / "day.tsv", "-o", tmp_path / "total.tsv")[0] == 0
    assert (tmp_path / "total.tsv").read_text(encoding="utf-8") == "的\t7\n了\t1\n"


@pytest.mark.parametrize("inputs, name, warning", [
    (["logs"], "counts.tsv", "inside the input folder"),
    (["logs/*.txt"], "counts.txt", "matched by the input pattern"),
    (["logs/**"], "counts.tsv", "matched by the input pattern"),
    (["logs/*"], "sub/counts.tsv", "matched by the input pattern"),  # inside a folder the pattern matches
])
def test_an_output_a_later_run_would_read_is_warned_of_then_refused(tmp_path, monkeypatch, inputs, name, warning):
    """A nightly `count logs -o logs/counts.tsv`: the first run warns that the next one would
    read the counts as text; the next one refuses, before reading, and leaves them as they were."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.txt").write_text("今天\n", encoding="utf-8")
    (tmp_path / "logs" / "sub").mkdir()
    code, out, err = run_main("count", *inputs, "-o", f"logs/{name}")
    assert code == 0 and warning in err and "a later run" in err
    counts = (tmp_path / "logs" / name).read_bytes()
    code, out, err = run_main("count", *inputs, "-o", f"logs/{name}")
    assert code == 2 and f"-o logs/{name} is {warning.replace('matches', 'matched by')} {inputs[0]}" in err
    assert (tmp_path / "logs" / name).read_bytes() == counts


@pytest.mark.parametrize("command", [
    ["count", "{text}", "--user-dict", "{folder}"],
    ["count", "{text}", "--stopwords", "{folder}"],
    ["count", "{text}", "-o", "{folder}"],
    ["discover", "{text}", "--save-dict", "{folder}"],
    ["discover", "{text}", "--new-only", "--user-dict", "{folder}"],
    ["sim", "今天", "天气", "--vectors", "{store}", "--metric", "whiten", "--whitening", "{folder}"],
    ["embed", "{text}", "--vectors", "{store}", "--whitening", "{folder}"],
    ["embed", "{text}", "--vectors", "{store}", "--weighting", "sif", "--counts", "{folder}"],
    ["whiten", "apply", "{text}", "--vectors", "{store}", "--whitening", "{folder}"],
])
def test_a_folder_where_a_file_is_expected_is_one_runtime_error(tmp_path, command):
    """Whatever the option, a folder given for a file is the same mistake as a missing file:
    status 1 and one line naming it (click's own check said status 2 for some options only)."""
    folder = tmp_path / "dd"
    folder.mkdir()
    (tmp_path / "t.txt").write_text("今天天气不错\n", encoding="utf-8")
    store = small_store(tmp_path / "store")
    args = [a.format(text=tmp_path / "t.txt", folder=folder, store=store) for a in command]
    code, out, err = run_main(*args)
    lines = [line for line in err.splitlines() if line.startswith("textkit: error:")]
    assert code == 1 and out == "" and len(lines) == 1 and f"{folder}: is a directory" in lines[0], err


def small_store(path):
    from textkit.vectors import save_store

    words = ["今天", "天气", "不错", "很好", "的"]
    matrix = np.random.default_rng(0).normal(size=(len(words), 4)).astype(np.float32)
    save_store(path, words, matrix)
    return path


@pytest.mark.parametrize("command, option", [
    (["whiten", "fit", "{text}", "--vectors", "{store}", "-o", "{text}"], "-o"),
    (["discover", "{text}", "--save-dict", "{text}"], "--save-dict"),
    (["search", "今天", "--corpus", "{text}", "--vectors", "{store}", "--build-index", "{text}"], "--build-index"),
    (["vectors", "neighbors", "今天", "--vectors", "{store}", "-o", "{store}/vocab.txt"], "-o"),
    (["vectors", "export", "{store}", "-o", "{store}/vocab.txt"], "-o"),
    (["embed", "{text}", "--vectors", "{store}", "-o", "{store}/vocab.jsonl"], "-o"),
    (["sim", "--pairs", "{text}", "--vectors", "{store}", "-o", "{store}/vocab.txt"], "-o"),
    (["vectors", "train", "{folder}", "-o", "{folder}/old_store"], "-o"),
    (["embed", "{text}", "--vectors", "{store}", "-o", "{store}/vectors.npy"], "-o"),  # binary, in the store
    (["search", "今天", "--index", "{index}", "--vectors", "{store}", "-o", "{index}"], "-o"),
    (["count", "{text}", "--stopwords", "{words}", "-o", "{words}"], "-o"),
    (["discover", "{text}", "--new-only", "--user-dict", "{words}", "--save-dict", "{words}"], "--save-dict"),
    (["sim", "--pairs", "{text}", "--vectors", "{store}", "--metric", "whiten", "--whitening", "{index}",
      "-o", "{index}"], "-o"),
    (["embed", "{text}", "--vectors", "{store}", "--weighting", "sif", "--counts", "{words}", "-o",
      "{words}"], "-o"),
    (["vectors", "train", "{folder}/old_store/*.json", "-o", "{folder}/old_store"], "-o"),  # a pattern's file
])
def test_every_output_that_is_an_input_is_refused(tmp_path, command, option):
    """Whatever the option, an output that the run reads is refused before the work, and the
    input is left as it was: a corpus (named as an .npz, as whiten fit and search ask), a
    vector store's own files, an input folder holding an older store."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    text = folder / "in.npz"
    text.write_text("今天天气不错\t今天天气很好\n", encoding="utf-8")
    store = small_store(tmp_path / "store")
    small_store(folder / "old_store")
    (store / "vocab.jsonl").write_text((store / "vocab.txt").read_text(encoding="utf-8"), encoding="utf-8")
    index = tmp_path / "index.npz"
    index.write_bytes(b"PK")  # refused before it is read
    words = tmp_path / "words.jsonl"
    words.write_text("今天\t3\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = [part.format(text=text, store=store, folder=folder, index=index, words=words) for part in command]
    code, out, err = run_main(*args)
    assert code == 2, err
    assert f"{option} " in err and ("the run would read it" in err or "which the run reads" in err), err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("inputs, output", [
    (["d1"], "outside.txt"),  # d1/link.txt -> outside.txt: reading d1 reads it
    (["data/*.txt"], "alink.txt"),  # alink.txt -> data/a.txt
    (["ldata/*.txt"], "data/a.txt"),  # ldata -> data
    (["data/**/*.txt"], "data/a.txt"),  # ** matches no folder too
    (["d*/**/a.txt"], "data/a.txt"),
])
def test_an_input_reached_through_links_or_globstars_is_refused(tmp_path, monkeypatch, inputs, output):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("今天\n", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("天气\n", encoding="utf-8")
    (tmp_path / "d1").mkdir()
    (tmp_path / "d1" / "link.txt").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "alink.txt").symlink_to(tmp_path / "data" / "a.txt")
    (tmp_path / "ldata").symlink_to(tmp_path / "data")
    before = {p: p.read_bytes() for p in (tmp_path / "data" / "a.txt", tmp_path / "outside.txt")}
    code, out, err = run_main("count", *inputs, "-o", output)
    assert code == 2 and "the run would read it" in err, err
    assert {p: p.read_bytes() for p in before} == before


def test_an_input_reached_through_a_link_to_a_hidden_folder_is_refused(tmp_path, monkeypatch):
    """'**/' walks a/ (skipping a/.h) and also matches d -> a/.h, so it reads a/.h/4.txt through d."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a" / ".h").mkdir(parents=True)
    (tmp_path / "a" / "1.txt").write_text("今天天气\n", encoding="utf-8")
    (tmp_path / "a" / ".h" / "4.txt").write_text("北京\n", encoding="utf-8")
    os.symlink("a/.h", tmp_path / "d")
    code, out, err = run_main("count", "**/", "-o", "a/.h/4.txt")
    assert code == 2 and "matched by the input pattern" in err
    assert (tmp_path / "a" / ".h" / "4.txt").read_text(encoding="utf-8") == "北京\n"


def test_a_fifo_in_an_output_folder_is_not_opened(tmp_path):
    """The read opens regular files only; the check must not wait on a FIFO either."""
    (tmp_path / "src" / "store").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("今天天气不错\n", encoding="utf-8")
    os.mkfifo(tmp_path / "src" / "store" / "p")
    done = run_textkit("vectors", "train", tmp_path / "src", "-o", tmp_path / "src" / "store", "-q", timeout=60)
    assert done.returncode != 0 and done.stderr.decode().count("\n") == 1


def test_the_bundled_vectors_and_stopwords_are_inputs_too(tmp_path, monkeypatch):
    """Without --vectors the bundled store is read: -o into it is refused, as with --vectors.
    (Copies stand in for the bundled files, which a failing check would replace.)"""
    import shutil

    from textkit import tokenize, vectors

    store, stopwords = tmp_path / "bundled", tmp_path / "stopwords-zh.txt"
    shutil.copytree(vectors.default_store_path(), store)
    shutil.copy(tokenize.DEFAULT_STOPWORDS, stopwords)
    monkeypatch.setattr(vectors, "default_store_path", lambda: store)
    monkeypatch.setattr(tokenize, "DEFAULT_STOPWORDS", stopwords)
    (tmp_path / "c.txt").write_text("今天天气不错\n", encoding="utf-8")
    before = {p: p.read_bytes() for p in [*store.iterdir(), stopwords]}
    for args in (["vectors", "neighbors", "北京", "-o", store / "vocab.txt"],
                 ["vectors", "export", "-o", store / "vocab.txt"],
                 ["embed", tmp_path / "c.txt", "-o", store / "vectors.npy"],
                 ["count", tmp_path / "c.txt", "--stopwords", "default", "-o", stopwords]):
        code, out, err = run_main(*args)
        assert code == 2 and "which the run reads" in err, (args, err)
    assert {p: p.read_bytes() for p in before} == before


def test_outputs_the_read_skips_are_not_inputs(tmp_path, caplog):
    """Hidden names and binary files in an input folder, and names a pattern does not match, are never read."""
    from textkit.output import check_not_an_input

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.txt").write_text("今天\n", encoding="utf-8")
    (logs / "vectors.npy").write_bytes(b"\x93NUMPY\x01\x00" + bytes(100))
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "vectors.npy").write_bytes(b"\x93NUMPY\x01\x00" + bytes(100))
    with caplog.at_level("WARNING", logger="textkit"):
        check_not_an_input(str(logs / ".counts.tsv"), [str(logs)])
        check_not_an_input(str(logs / "vectors.npy"), [str(logs)])
        check_not_an_input(str(logs / "counts.tsv"), [str(logs / "*.txt")])
        check_not_an_input(str(tmp_path / "counts.txt"), [str(logs / "*.txt")])
        check_not_an_input(str(logs / ".counts.tsv"), [str(logs / "*")])  # * matches no leading dot
        check_not_an_input(str(tmp_path / "store" / "new.tsv"), [], side=[str(tmp_path / "store")])
        check_not_an_input(str(logs / "e.npy"), [str(logs)])  # binary: a folder's read skips it
        (logs / "v.npy").symlink_to(tmp_path / "store" / "vectors.npy")  # the same, through a link:
        check_not_an_input(str(tmp_path / "store"), [str(logs)])  # the store holds no file logs reads
        check_not_an_input(str(logs / "sub" / "w.npz"), [str(logs / "*")])  # in a folder the pattern matches
    assert caplog.text == ""


def test_output_format_and_compression_follow_the_name(tmp_path, sample_path):
    """counts.jsonl is JSON Lines, counts.csv CSV; .gz, .bz2, .xz compress (gzip with no name
    or time in its header: the same counts give the same bytes, whatever -j)."""
    import bz2
    import gzip
    import lzma

    plain = {fmt: run_main("count", sample_path, "-j1", "--format", fmt)[1] for fmt in ("tsv", "csv", "jsonl")}
    for name, fmt, unpack in (("c.jsonl", "jsonl", None), ("c.csv", "csv", None), ("c.txt", "tsv", None),
                              ("c.json", "jsonl", None),
                              ("c.tsv.gz", "tsv", gzip.decompress), ("c.jsonl.bz2", "jsonl", bz2.decompress),
                              ("c.CSV.xz", "csv", lzma.decompress)):
        assert run_main("count", sample_path, "-j1", "-o", tmp_path / name) == (0, "", "")
        data = (tmp_path / name).read_bytes()
        assert (unpack(data) if unpack else data).decode("utf-8") == plain[fmt], name
    assert run_main("count", sample_path, "-j2", "-o", tmp_path / "again.tsv.gz")[0] == 0
    assert (tmp_path / "again.tsv.gz").read_bytes() == (tmp_path / "c.tsv.gz").read_bytes()
    # --format given outright wins, with a word when the name says otherwise
    code, _, err = run_main("count", sample_path, "-j1", "--format", "tsv", "-o", tmp_path / "t.jsonl")
    assert code == 0 and err == f"textkit: warning: writing TSV to {tmp_path / 't.jsonl'}, as --format says\n"
    assert (tmp_path / "t.jsonl").read_text(encoding="utf-8") == plain["tsv"]
    # merge reads them all back
    assert run_main("merge", tmp_path / "c.tsv.gz", tmp_path / "c.jsonl.bz2")[1] == \
        run_main("merge", tmp_path / "c.txt", tmp_path / "c.jsonl")[1]


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_output_named_for_standard_output_appends_to_what_it_is_redirected_to(tmp_path, name):
    """`-o /dev/stdout >> log`: written through the descriptor, never a new file over the log."""
    if not os.path.exists(name):
        pytest.skip(f"no {name} here")
    log = tmp_path / "app.log"
    log.write_text("old\n", encoding="utf-8")
    with open(log, "a") as fh:
        proc = subprocess.run([sys.executable, "-m", "textkit", "count", "-", "-o", name],
                              input="今天天气不错\n不错\n".encode(), stdout=fh, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text(encoding="utf-8") == "old\n不错\t2\n今天天气\t1\n"


def test_descriptor_names():
    from textkit.output import descriptor_of

    assert [descriptor_of(p) for p in ("/dev/stdout", "/dev/stderr", "/dev/fd/5", "/proc/self/fd/7",
                                       f"/proc/{os.getpid()}/fd/3", "/proc/1/fd/3", "/dev/null", "out.tsv",
                                       "/dev//stdout")] == [1, 2, 5, 7, 3, None, None, None, 1]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_output_to_a_special_file_is_written_in_place(tmp_path):
    """`-o /dev/null` or a named pipe: written to, never replaced by a renamed file."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = run_textkit("count", "-o", fifo, input="今天天气不错\n不错\n".encode())
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert received == ["不错\t2\n今天天气\t1\n".encode()]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["pipe"]


def test_merge_tells_formats_by_content(tmp_path):
    """CSV from a pipe or a .gz, a TSV word starting with "{", a JSON Lines file opening with a blank line."""
    text = tmp_path / "t.txt"
    text.write_text("今天 天气 今天 {id}\n", encoding="utf-8")
    want = run_main("count", text, "--tokenizer", "whitespace")[1]
    csv_text = run_main("count", text, "--tokenizer", "whitespace", "--format", "csv")[1]
    assert run_textkit("merge", "-", input=csv_text.encode()).stdout.decode() == want
    with gzip.open(tmp_path / "c.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(csv_text)
    assert run_main("merge", tmp_path / "c.csv.gz")[1] == want
    brace = tmp_path / "b.tsv"
    brace.write_text("{id}\t3\n今天\t2\n", encoding="utf-8")
    assert run_main("merge", brace)[1] == "{id}\t3\n今天\t2\n"
    blank = tmp_path / "b.jsonl"
    blank.write_text('\n{"word": "a", "count": 2}\n', encoding="utf-8")
    assert run_main("merge", blank)[1] == "a\t2\n"


@pytest.mark.parametrize("line, message", [
    ('{"word": null, "count": 1}', "is not a string"),
    ('{"word": "a", "count": "7"}', "count \"7\" is not a whole number"),
    ('{"word": "a", "count": true}', "count true is not a whole number"),
    ('{"word": "a", "count": 1, "df": 1.5}', "df 1.5 is not a whole number"),
    ('{"word": "\\ud800", "count": 1}', "lone surrogate"),
])
def test_merge_checks_json_types(tmp_path, line, message):
    path = tmp_path / "c.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    code, out, err = run_main("merge", path)
    assert code == 1 and out == "" and "c.jsonl:1:" in err and message in err


def test_a_word_tsv_cannot_carry_is_refused_before_writing(tmp_path):
    """A word with a tab or a line break (from JSON Lines or CSV) would split its TSV row."""
    path = tmp_path / "c.jsonl"
    path.write_text('{"word": "a", "count": 9}\n{"word": "x\\t5", "count": 3}\n', encoding="utf-8")
    code, out, err = run_main("merge", path)
    assert code == 1 and out == "" and "'x\\t5' holds a tab or a line break" in err and "--format jsonl" in err
    code, out, err = run_main("merge", path, "--format", "jsonl")
    assert code == 0 and out.splitlines()[1] == '{"word": "x\\t5", "count": 3}'


def test_merge_takes_globs_and_directories_and_stdin_once(tmp_path):
    folder = tmp_path / "days"
    folder.mkdir()
    (folder / "d1.tsv").write_text("的\t3\n", encoding="utf-8")
    (folder / "d2.tsv").write_text("的\t1\n好\t1\n", encoding="utf-8")
    assert run_main("merge", folder)[1] == "的\t4\n好\t1\n"
    assert run_main("merge", str(folder / "d*.tsv"))[1] == "的\t4\n好\t1\n"
    code, _, err = run_main("merge", "-", "-")
    assert code == 2 and "only once" in err


def test_merge_says_when_the_df_column_is_left_out(tmp_path):
    (tmp_path / "df.tsv").write_text("的\t3\t2\n", encoding="utf-8")
    (tmp_path / "plain.tsv").write_text("的\t1\n", encoding="utf-8")
    (tmp_path / "empty.tsv").write_text("", encoding="utf-8")
    code, out, err = run_main("merge", tmp_path / "df.tsv", tmp_path / "empty.tsv")
    assert code == 0 and out == "的\t3\t2\n" and err == ""  # an empty file has no say
    code, out, err = run_main("merge", tmp_path / "df.tsv", tmp_path / "plain.tsv")
    assert code == 0 and out == "的\t4\n" and "df column is left out" in err and "plain.tsv" in err


def test_lone_surrogates_in_json_lines_are_replaced_or_refused(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"text": "ok \\ud83d abc"}\n', encoding="utf-8")
    code, out, err = run_main("count", path, "--field", "text", "--tokenizer", "whitespace")
    assert code == 0 and out == "abc\t1\nok\t1\n" and "s.jsonl:1: lone surrogates replaced" in err
    code, out, _ = run_main("count", path, "--field", "text", "--tokenizer", "whitespace", "--keep-punct")
    assert code == 0 and out == "abc\t1\nok\t1\n\ufffd\t1\n"
    code, out, err = run_main("count", path, "--field", "text", "--tokenizer", "whitespace", "--strict")
    assert code == 1 and out == "" and "lone surrogate" in err and err.count("\n") == 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32-le", "idna", "punycode", "rot13", "undefined"])
def test_encodings_that_cannot_be_read_by_line_are_one_error(tmp_path, encoding):
    path = tmp_path / "t.txt"
    path.write_text("今天\n", encoding="utf-8")
    code, out, err = run_main("count", path, "--encoding", encoding)
    assert code == 2 and out == "" and f"encoding {encoding!r} (--encoding): not readable" in err and err.count("\n") == 1
    code, out, err = run_main("count", path, "--encoding", "klingon")
    assert code == 2 and out == "" and err == "textkit: error: unknown encoding 'klingon' (see 'textkit count --help')\n"


def test_text_starting_with_bzh_is_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("BZh is a word\n", encoding="utf-8")
    assert run_main("count", path, "--tokenizer", "whitespace")[1] == "BZh\t1\na\t1\nis\t1\nword\t1\n"


def test_output_problems_found_before_the_work(tmp_path, monkeypatch):
    """-o's folder (missing, or not writable), an empty name, --save-dict's folder: checked before
    reading; the old -o file kept."""
    import textkit.cli.count
    import textkit.cli.discover

    def fail(*args, **kwargs):
        raise AssertionError("worked before the output was checked")

    monkeypatch.setattr(textkit.cli.count, "count_words", fail)
    monkeypatch.setattr(textkit.cli.discover, "discover_corpus", fail)
    path = tmp_path / "t.txt"
    path.write_text("今天\n", encoding="utf-8")
    for args, message, status in (
            (["count", path, "-o", tmp_path / "no" / "x.tsv"], "does not exist", 1),
            (["count", path, "-o", ""], "empty output name", 2),  # a usage error
            (["count", path, "-o", tmp_path], "is a directory", 1),
            # a nightly job learns at once, not after hours of work, that -o cannot be written
            (["count", path, "-o", _unwritable_output(tmp_path)], "cannot write", 1),
            (["count", path, "-o", tmp_path / ("a" * 256 + ".tsv")], "the name is 260 bytes long", 1)):
        code, out, err = run_main(*args)
        assert code == status and message in err and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # the folder probe's file
    (tmp_path / "k.tsv").write_text("old\n", encoding="utf-8")
    code, _, err = run_main("discover", path, "-o", tmp_path / "k.tsv", "--save-dict", tmp_path / "no" / "x.dict")
    assert code == 1 and "does not exist" in err
    assert (tmp_path / "k.tsv").read_text(encoding="utf-8") == "old\n"


def test_output_through_a_symbolic_link_updates_its_target(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("今天\n", encoding="utf-8")
    (tmp_path / "target.tsv").write_text("old\n", encoding="utf-8")
    os.symlink("target.tsv", tmp_path / "link.tsv")
    assert run_main("count", path, "-o", tmp_path / "link.tsv")[0] == 0
    assert os.path.islink(tmp_path / "link.tsv")
    assert (tmp_path / "target.tsv").read_text(encoding="utf-8") == "今天\t1\n"
    # a link to a file not made yet: made, as a shell's > does, and the link stays; the file
    # written is what its own name says (format, compression), whatever the link's name
    os.symlink("made.csv.gz", tmp_path / "dangling.tsv")
    assert run_main("count", path, "-o", tmp_path / "dangling.tsv")[0] == 0
    assert os.path.islink(tmp_path / "dangling.tsv")
    assert gzip.decompress((tmp_path / "made.csv.gz").read_bytes()) == "word,count\n今天,1\n".encode()


def test_a_loop_of_symbolic_links_as_output_is_refused_and_kept(tmp_path):
    """As a shell's > refuses it: the loop is named, not replaced by a file that hides it."""
    path = tmp_path / "t.txt"
    path.write_text("今天\n", encoding="utf-8")
    os.symlink("loop", tmp_path / "loop")
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    for name in ("loop", "a"):
        code, out, err = run_main("count", path, "-o", tmp_path / name)
        assert code == 1 and "a loop of symbolic links" in err and os.path.islink(tmp_path / name)


def test_closed_standard_output_is_one_line(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("今天\n", encoding="utf-8")
    result = subprocess.run(f'"{sys.executable}" -m textkit count "{path}" >&-', shell=True, capture_output=True)
    assert result.returncode == 1 and result.stderr == b"textkit: error: standard output is closed; give -o FILE\n"


def _unwritable_output(tmp_path) -> str:
    if os.geteuid() == 0:
        return "/proc/textkit-test.tsv"  # not writable even by root
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    return str(locked / "x.tsv")


def test_permission_denied_names_the_output_not_a_temporary(tmp_path):
    target = _unwritable_output(tmp_path)
    path = tmp_path / "t.txt"
    path.write_text("今天\n", encoding="utf-8")
    code, out, err = run_main("count", path, "-o", target)
    assert code == 1 and err.startswith(f"textkit: error: {target}: cannot write") and ".tmp" not in err


def test_output_name_of_253_bytes(tmp_path):
    """The longest names a file system takes (255 bytes) work: the temporary's name is cut, not the output's."""
    path = tmp_path / "t.txt"
    path.write_text("今天\n", encoding="utf-8")
    name = "统" * 83 + ".tsv"
    assert len(name.encode("utf-8")) == 253
    assert run_main("count", path, "-o", tmp_path / name)[0] == 0
    assert (tmp_path / name).read_text(encoding="utf-8") == "今天\t1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["t.txt", name])


def test_progress_stops_once_results_go_to_the_terminal(monkeypatch):
    """stdout and stderr on one terminal: the progress line is erased before the first result
    and not drawn again (else rows would be printed after its text, on its line)."""
    import io

    from textkit.output import Progress, open_output

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(sys, "stdout", screen)
    progress = Progress(enabled=True)
    progress(1_000_000, 10)
    assert screen.getvalue().endswith("MB/s")
    with open_output(None) as fh:
        fh.write("的\t3\n")
        progress._last = 0.0  # due for a redraw
        progress(2_000_000, 20)
        fh.write("了\t2\n")
    assert screen.getvalue().endswith(" \r的\t3\n了\t2\n") and "\x1b" not in screen.getvalue()
    Progress(enabled=True)  # the next command draws again
    assert not Progress._held


def test_running_out_of_memory_is_one_line(monkeypatch, sample_path):
    import numpy as np

    import textkit.cli.count as count_command

    def too_big(*args, **kwargs):
        return np.empty(1 << 58, dtype=np.uint8)  # numpy: "Unable to allocate 256. PiB for an array ..."

    monkeypatch.setattr(count_command, "count_words", too_big)
    code, out, err = run_main("count", sample_path)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("textkit: error: out of memory (Unable to allocate") and "-j" in err


@pytest.mark.parametrize("shell", [
    'count --tokenizer char -o c.txt < c.txt',  # standard input is the output
    'count --tokenizer char - -o c.txt < c.txt',
    'count --tokenizer char c.txt >> c.txt',  # standard output is an input (as cat refuses)
    'embed -j1 c.txt -o /dev/stdout >> c.txt',  # would read its own output without end
    'count --tokenizer char . > out.tsv',  # standard output lies in the input folder
])
def test_standard_streams_that_are_an_input_are_refused(tmp_path, shell):
    (tmp_path / "c.txt").write_text("今天天气不错\n", encoding="utf-8")
    done = subprocess.run(f'"{sys.executable}" -m textkit {shell}', shell=True, cwd=tmp_path, capture_output=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1, err
    assert "which the run reads: it would read what it writes" in err or "-o c.txt is standard input" in err, err
    assert (tmp_path / "c.txt").read_text(encoding="utf-8") == "今天天气不错\n"


def test_a_hard_link_to_an_input_may_be_the_output(tmp_path, monkeypatch):
    """Another directory entry of the same file: the output's rename replaces that entry only, so the
    input is read whole and left as it was (a bind mount, one entry seen twice, is refused)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "o").mkdir()
    (tmp_path / "d" / "a.txt").write_text("今天\n", encoding="utf-8")
    os.link(tmp_path / "d" / "a.txt", tmp_path / "o" / "b.txt")
    for inputs in (["d/*.txt"], ["d"], ["d/a.txt"]):
        (tmp_path / "o" / "b.txt").unlink(missing_ok=True)
        os.link(tmp_path / "d" / "a.txt", tmp_path / "o" / "b.txt")
        assert run_main("count", *inputs, "--tokenizer", "char", "-o", "o/b.txt")[0] == 0
        assert (tmp_path / "d" / "a.txt").read_text(encoding="utf-8") == "今天\n"
        assert (tmp_path / "o" / "b.txt").read_text(encoding="utf-8") == "今\t1\n天\t1\n"


def test_standard_output_is_compared_by_inode_and_by_what_the_cli_writes_to(tmp_path):
    """Behind standard output even a hard link to an input is refused: the shell appends to the file
    itself, no rename leaves the input whole. A program that calls the CLI with sys.stdout redirected
    elsewhere is not refused for its own descriptor 1."""
    (tmp_path / "c.txt").write_text("今天天气不错\n", encoding="utf-8")
    os.link(tmp_path / "c.txt", tmp_path / "hl.txt")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(f'"{sys.executable}" -m textkit count --tokenizer char c.txt >> hl.txt', shell=True,
                          cwd=tmp_path, capture_output=True, timeout=120, env=env)
    assert done.returncode == 2 and "which the run reads" in done.stderr.decode()
    assert (tmp_path / "c.txt").read_text(encoding="utf-8") == "今天天气不错\n"
    (tmp_path / "hl.txt").unlink()
    script = ("import contextlib, io, sys\n"
              "from textkit.cli.main import main\n"
              "buffer = io.StringIO()\n"
              "with contextlib.redirect_stdout(buffer):\n"
              "    try:\n"
              "        main(['count', '--tokenizer', 'char', '.'])\n"
              "    except SystemExit as exc:\n"
              "        code = exc.code\n"
              "sys.stderr.write(f'{code} {len(buffer.getvalue())}')\n")
    done = subprocess.run(f'"{sys.executable}" -c "$SCRIPT" > run.log', shell=True, cwd=tmp_path,
                          capture_output=True, timeout=120, env={**env, "SCRIPT": script})
    code, written = done.stderr.decode().split()[-2:]
    assert code in ("0", "None") and int(written) > 0, done.stderr.decode()


@pytest.mark.parametrize("args, readers", [
    (["count", "-", "--user-dict", "-"], "INPUT and --user-dict are both -"),
    (["count", "--stopwords", "-"], "INPUT and --stopwords are both -"),  # no INPUT: standard input
    (["count", "-", "-"], "INPUT is - twice"),
    (["discover", "-", "--user-dict", "-"], "INPUT and --user-dict are both -"),
    (["embed", "--weighting", "sif", "--counts", "-"], "INPUT and --counts are both -"),
    (["whiten", "fit", "-", "--vectors", "-", "-o", "w.npz"], "INPUT and --vectors are both -"),
    (["sim", "--pairs", "-", "--vectors", "-"], "--pairs and --vectors are both -"),
    (["search", "--queries", "-", "--corpus", "-"], "--corpus and --queries are both -"),
    (["eval", "-", "--method", "whiten", "--fit-on", "-"], "PAIRS.tsv and --fit-on are both -"),
    (["merge", "-", "-"], "FILE is - twice"),
])
def test_standard_input_given_for_two_inputs_is_a_usage_error(tmp_path, monkeypatch, args, readers):
    """The first reader would take all of standard input and leave the other nothing (count gave an
    empty table with status 0, embed an empty matrix): refused before anything is read."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(*args)
    assert code == 2 and out == ""
    assert f"error: {readers}, but standard input can be read only once" in err and err.count("\n") == 1
    assert not (tmp_path / "w.npz").exists()


def test_standard_input_for_one_input_beside_files_still_works(tmp_path, monkeypatch):
    (tmp_path / "c.txt").write_text("蓝莓芝士蛋糕真好吃\n", encoding="utf-8")
    res = run_textkit("count", tmp_path / "c.txt", "--user-dict", "-", input="蓝莓芝士蛋糕 10\n".encode())
    assert res.returncode == 0 and "蓝莓芝士蛋糕\t1" in res.stdout.decode()


def test_merge_refuses_standard_output_onto_an_input_but_not_o(tmp_path):
    """`merge a.tsv c.tsv >> a.tsv` would append the sum to a.tsv (and `>` empties it first): refused.
    `-o a.tsv` is written atomically after the reading, so it stays allowed."""
    (tmp_path / "a.tsv").write_text("的\t3\n", encoding="utf-8")
    (tmp_path / "c.tsv").write_text("的\t2\n了\t1\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(f'"{sys.executable}" -m textkit merge a.tsv c.tsv >> a.tsv', shell=True,
                          cwd=tmp_path, capture_output=True, timeout=120, env=env)
    assert done.returncode == 2 and "standard output is" in done.stderr.decode()
    assert (tmp_path / "a.tsv").read_text(encoding="utf-8") == "的\t3\n"
    assert run_main("merge", tmp_path / "a.tsv", tmp_path / "c.tsv", "-o", tmp_path / "a.tsv")[0] == 0
    assert (tmp_path / "a.tsv").read_text(encoding="utf-8") == "的\t5\n了\t1\n"


def test_merge_refuses_an_output_that_an_input_folder_or_pattern_reads(tmp_path):
    """`merge days/ -o days/total.tsv` would add the previous total to every new one: the first run
    warns (the file does not exist yet), later runs are refused; so with a pattern that matches it."""
    days = tmp_path / "days"
    days.mkdir()
    (days / "d1.tsv").write_text("你好\t1\n", encoding="utf-8")
    total = days / "total.tsv"
    code, _, err = run_main("merge", days, "-o", total)
    assert code == 0 and "inside the input folder" in err
    assert total.read_text(encoding="utf-8") == "你好\t1\n"
    for inputs in ([days], [str(days / "*.tsv")], [total, days]):
        code, _, err = run_main("merge", *inputs, "-o", total)
        assert code == 2 and "-o" in err and "give another name" in err
        assert total.read_text(encoding="utf-8") == "你好\t1\n"

def test_the_tsv_check_looks_at_the_rows_written_only(tmp_path):
    """A word with a tab that --top or --min-count leaves out does not stop the TSV table."""
    (tmp_path / "t.jsonl").write_text('{"word": "好", "count": 9}\n{"word": "a\\tb", "count": 1}\n',
                                      encoding="utf-8")
    for extra in (["--top", "1"], ["--min-count", "2"]):
        assert run_main("merge", tmp_path / "t.jsonl", *extra)[:2] == (0, "好\t9\n")
    code, out, err = run_main("merge", tmp_path / "t.jsonl")
    assert code == 1 and out == "" and "holds a tab or a line break" in err


def test_merge_of_a_folder_skips_binary_files_as_count_does(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.tsv").write_text("的\t2\n", encoding="utf-8")
    (tmp_path / "d" / "z.bin").write_bytes(b"x\x00y")
    code, out, err = run_main("merge", tmp_path / "d")
    assert code == 0 and out == "的\t2\n" and "z.bin: skipped, looks like a binary file" in err
    code, out, err = run_main("merge", tmp_path / "d" / "z.bin")  # named: an error, as with count
    assert code == 1 and out == "" and "looks like a binary file" in err


def test_output_names_that_cannot_be_written_are_told_plainly(tmp_path, sample_path):
    """An empty name is refused by every output option (--save-dict '' wrote nothing, silently), as a
    usage error; a folder part that is a file is named as such."""
    (tmp_path / "f.txt").write_text("x\n", encoding="utf-8")
    for args in (["discover", sample_path, "--save-dict", ""], ["vectors", "train", sample_path, "-o", ""],
                 ["vectors", "convert", tmp_path / "f.txt", "-o", " "], ["count", sample_path, "-o", ""]):
        code, out, err = run_main(*args)
        assert code == 2 and out == "" and "an empty output name; give a file name" in err, args
    code, _, err = run_main("count", sample_path, "-o", tmp_path / "f.txt" / "x.tsv")
    assert code == 1 and f"{tmp_path / 'f.txt'} is not a folder" in err


def test_a_control_character_never_reaches_a_count_file(tmp_path):
    """A NUL that arrives through JSON (\\u0000) separates words like a space; count's file then
    merges (a raw NUL in it would make merge take it for a binary file)."""
    (tmp_path / "n.jsonl").write_text('{"t": "ab\\u0000cd ab"}\n{"t": "你好\\u0000\\u001b世界"}\n',
                                      encoding="utf-8")
    for extra in (["--tokenizer", "whitespace"], ["--keep-punct"]):
        out = tmp_path / "n.tsv"
        assert run_main("count", tmp_path / "n.jsonl", "--field", "t", *extra, "-o", out)[0] == 0
        text = out.read_text(encoding="utf-8")
        assert not any(ch in text for ch in "\x00\x1b")
        code, merged, _ = run_main("merge", out)
        assert code == 0 and merged == text
    assert text.splitlines()[0] == "ab\t2"


def test_a_file_name_with_a_newline_keeps_each_problem_on_one_line(tmp_path):
    """Errors and warnings show control characters of a name escaped, as repr does."""
    bad = tmp_path / "c\nd.txt"
    bad.write_bytes(b"\xff\n")
    code, _, err = run_main("count", bad)
    assert code == 0 and err.splitlines()[0] == f"textkit: warning: {tmp_path}/c\\nd.txt:1: invalid utf-8 bytes replaced"
    for args in ([bad, "--strict"], [tmp_path / "x\ry.txt"]):
        code, _, err = run_main("count", *args)
        assert code == 1 and err.count("\n") == 1 and err.startswith("textkit: error: "), err
        assert ("c\\nd.txt:1: invalid utf-8" in err) or ("x\\ry.txt: no such file" in err)
