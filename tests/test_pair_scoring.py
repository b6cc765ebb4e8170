"""Pairs files scored over the pool (textkit.pair_scoring): batching, windows, any number of workers."""

from __future__ import annotations

import os
import time

import multiprocess
import numpy as np
import pytest

from textkit import pair_scoring as ps
from textkit import transport as tr
from textkit.errors import DataError

from .test_transport import random_store, random_tokens


def test_group_batches_keeps_pairs_sharing_a_text_together():
    rng = np.random.default_rng(0)
    pairs = [(f"t{rng.integers(150)}", f"t{rng.integers(150)}") for _ in range(80)]
    batches = ps.group_batches(pairs, batch_size=10)
    assert sorted(i for b in batches for i in b) == list(range(len(pairs)))
    assert all(b == sorted(b) and len(b) <= 10 for b in batches)
    batch_of = {i: n for n, b in enumerate(batches) for i in b}
    # components by a plain flood fill over shared texts
    unseen, checked = set(range(len(pairs))), 0
    while unseen:
        todo, comp = [unseen.pop()], set()
        while todo:
            i = todo.pop()
            comp.add(i)
            linked = {j for j in unseen if set(pairs[j]) & set(pairs[i])}
            unseen -= linked
            todo.extend(linked)
        if len(comp) <= 10:
            assert len({batch_of[i] for i in comp}) == 1
            checked += len(comp) > 1
    assert checked > 3
    small = [("a", "b"), ("c", "d"), ("b", "e"), ("f", "f")]
    assert ps.group_batches(small, batch_size=3) == [[0, 1, 2], [3]]
    assert ps.group_batches(small, batch_size=2) == [[0, 2], [1, 3]]


def reference_group_batches(pairs, batch_size):
    """The plain rule: union-find over texts, components in order of their first pair, packed greedily."""
    parent = {}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    components = {}
    for i, (a, _) in enumerate(pairs):
        components.setdefault(find(a), []).append(i)
    batches, current = [], []
    for members in components.values():
        if current and len(current) + len(members) > batch_size:
            batches.append(current)
            current = []
        for start in range(0, len(members), batch_size):
            part = members[start:start + batch_size]
            if current and len(current) + len(part) > batch_size:
                batches.append(current)
                current = []
            current.extend(part)
    if current:
        batches.append(current)
    return [sorted(b) for b in batches]


def test_group_batches_equals_the_plain_rule():
    rng = np.random.default_rng(5)
    assert ps.group_batches([], 4) == []
    for _ in range(400):
        n_texts, n_pairs = int(rng.integers(1, 30)), int(rng.integers(1, 60))
        pairs = [(f"t{rng.integers(n_texts)}", f"t{rng.integers(n_texts)}") for _ in range(n_pairs)]
        size = int(rng.integers(1, 15))
        assert ps.group_batches(pairs, size) == reference_group_batches(pairs, size)


def test_connected_components_equal_a_graph_search():
    """Each node's label is the smallest node it reaches (breadth-first search as the reference)."""
    rng = np.random.default_rng(9)
    for trial in range(90):
        n = int(rng.integers(1, 300))
        if trial % 3 == 0:  # one long chain through the nodes in random order: the most rounds of jumping
            order = rng.permutation(n)
            left, right = order[:-1], order[1:]
        else:
            m = int(rng.integers(0, 2 * n))
            left, right = rng.integers(0, n, m), rng.integers(0, n, m)
        neighbours = [[] for _ in range(n)]
        for a, b in zip(left.tolist(), right.tolist()):
            neighbours[a].append(b)
            neighbours[b].append(a)
        want = np.full(n, -1)
        for start in range(n):
            if want[start] >= 0:
                continue
            members, frontier = {start}, [start]
            while frontier:
                frontier = [b for a in frontier for b in neighbours[a] if b not in members]
                members.update(frontier)
            want[list(members)] = min(members)
        got = ps.connected_components(left.astype(np.int64), right.astype(np.int64), n)
        assert got.tolist() == want.tolist()


def test_pairs_file_same_scores_for_any_workers(tmp_path):
    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import save_store

    store = random_store(12, n_words=25, dim=6)
    save_store(tmp_path / "store", store.words, store.matrix)
    rng = np.random.default_rng(1)
    sentences = [" ".join(random_tokens(rng, store, 1, 6)) for _ in range(40)] + ["", "zzz"]
    lines = [f"{sentences[int(rng.integers(len(sentences)))]}\t{sentences[int(rng.integers(len(sentences)))]}"
             for _ in range(300)]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for metric in ("wrd", "wmd"):
        job = ps.PairJob(str(tmp_path / "store"), TokenizerSpec(kind="whitespace"), metric=metric)
        one = list(ps.score_pairs_file(str(tmp_path / "pairs.tsv"), job, workers=1, batch_size=16))
        two = list(ps.score_pairs_file(str(tmp_path / "pairs.tsv"), job, workers=2, batch_size=16))
        assert one == two
        assert [row[0] for row in one] == list(range(1, 301))
        pairs = [(line.split("\t")[0].split(), line.split("\t")[1].split()) for line in lines]
        scores, valid = tr.score_pairs(pairs, store, metric=metric, with_mask=True)
        assert [row[3] for row in one] == valid.tolist()
        np.testing.assert_allclose([row[2] for row in one], scores, rtol=1e-6)


def test_pairs_files_scored_in_two_threads_keep_their_own_settings(tmp_path, monkeypatch):
    """Windows too small for the pool run in this process: two runs in threads, one WRD and one
    WMD, must each score with their own metric (not with the state kept for worker processes)."""
    from .conftest import run_in_threads

    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import save_store

    monkeypatch.setattr(ps, "PAIR_WINDOW", 40)  # many windows of one batch each
    store = random_store(5, n_words=25, dim=6)
    save_store(tmp_path / "store", store.words, store.matrix)
    rng = np.random.default_rng(2)
    lines = [" ".join(random_tokens(rng, store, 1, 6)) + "\t" + " ".join(random_tokens(rng, store, 1, 6))
             for _ in range(1200)]
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    jobs = [ps.PairJob(str(tmp_path / "store"), TokenizerSpec(kind="whitespace"), metric=metric)
            for metric in ("wrd", "wmd")]
    alone = [list(ps.score_pairs_file(str(tmp_path / "pairs.tsv"), job, workers=2)) for job in jobs]
    together = run_in_threads(*(lambda job=job: list(ps.score_pairs_file(str(tmp_path / "pairs.tsv"), job, workers=2))
                                for job in jobs))
    assert together == alone


def wait_for_workers_to_exit(timeout=10.0):
    deadline = time.monotonic() + timeout
    while multiprocess.active_children() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_pairs_file_larger_than_a_window(tmp_path, monkeypatch):
    """Rows are all checked before the first score, also when the file spans several windows."""
    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import save_store

    store = random_store(13, n_words=10, dim=4)
    save_store(tmp_path / "store", store.words, store.matrix)
    monkeypatch.setattr(ps, "PAIR_WINDOW", 7)
    lines = [f"w{i % 10}\tw{(3 * i) % 10} w1" for i in range(30)]
    good = tmp_path / "good.tsv"
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = tmp_path / "bad.tsv"
    bad.write_text("\n".join(lines[:20] + ["w1 only"] + lines[20:]) + "\n", encoding="utf-8")
    job = ps.PairJob(str(tmp_path / "store"), TokenizerSpec(kind="whitespace"), metric="wrd")
    # blank lines (skipped) around the window's end: the second pass resumes after the right line
    spaced = lines[:6] + ["", "  "] + lines[6:8] + [""] + lines[8:]
    (tmp_path / "spaced.tsv").write_text("\ufeff" + "\n".join(spaced) + "\n", encoding="utf-8")
    for workers, early in ((1, False), (2, False), (2, True)):
        # early: the workers start before the file is read (as for a large file)
        monkeypatch.setattr(ps, "_worth_many_batches", lambda path, size, early=early: early)
        rows = list(ps.score_pairs_file(str(good), job, workers=workers, batch_size=4))
        assert [r[1] for r in rows] == lines
        want = [1 - tr.wrd(a.split(), b.split(), store) for a, b in (x.split("\t") for x in lines)]
        np.testing.assert_allclose([r[2] for r in rows], want, rtol=1e-12)
        rows = list(ps.score_pairs_file(str(tmp_path / "spaced.tsv"), job, workers=workers, batch_size=4))
        assert [r[1] for r in rows] == lines
        assert [r[0] for r in rows] == [n for n, line in enumerate(spaced, 1) if line.strip()]
        np.testing.assert_allclose([r[2] for r in rows], want, rtol=1e-12)
        wait_for_workers_to_exit()  # those of the run above, released when it ended
        stream = ps.score_pairs_file(str(bad), job, workers=workers, batch_size=4)
        with pytest.raises(DataError, match=r"bad\.tsv:21: expected text1<TAB>text2"):
            next(stream)  # the bad line is found before the first score
        assert not multiprocess.active_children()  # workers started early are stopped
    # a pipe, as bash's <(cmd) gives, cannot be read twice: held whole (it was cut after the first window)
    read_end, write_end = os.pipe()
    os.write(write_end, ("\n".join(lines) + "\n").encode())
    os.close(write_end)
    try:
        rows = list(ps.score_pairs_file(f"/dev/fd/{read_end}", job, workers=1, batch_size=4))
    finally:
        os.close(read_end)
    assert [r[1] for r in rows] == lines


def test_pair_scores_do_not_depend_on_the_text_cache(tmp_path, monkeypatch):
    """A text cache emptied in the middle of a batch (it is bounded) changes no score."""
    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import save_store

    store = random_store(17, n_words=10, dim=4)
    save_store(tmp_path / "store", store.words, store.matrix)
    lines = [f"w{i % 10} w{(i * 7) % 10}\tw{(3 * i) % 10} w1" for i in range(40)]  # texts repeat
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    want = [tr.wmd(a.split(), b.split(), store) for a, b in (x.split("\t") for x in lines)]
    job = ps.PairJob(str(tmp_path / "store"), TokenizerSpec(kind="whitespace"), metric="wmd")
    for cache_size in (200_000, 3, 1):
        monkeypatch.setattr(tr.PairScorer.__init__, "__defaults__", (cache_size,))
        got = [score for _, _, score, _ in ps.score_pairs_file(str(path), job, workers=1, batch_size=16)]
        np.testing.assert_allclose(got, want, rtol=1e-12)
