"""WMD / WRD against an independent linear programme (scipy linprog) and their invariants."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from textkit import transport as tr
from textkit.errors import DataError, UsageError


class FakeVectors:
    """A minimal in-memory store: words, float32 matrix, lookup()."""

    def __init__(self, words, matrix):
        self.words = list(words)
        self.matrix = np.asarray(matrix, dtype=np.float32)
        self._index = {w: i for i, w in enumerate(self.words)}

    def lookup(self, tokens):
        ids = np.array([self._index.get(t, -1) for t in tokens], dtype=np.int64)
        return ids, ids >= 0


def random_store(seed, n_words=15, dim=6):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n_words, dim)) * rng.uniform(0.2, 3.0, size=(n_words, 1))
    return FakeVectors([f"w{i}" for i in range(n_words)], matrix)


def random_tokens(rng, store, low=1, high=9):
    n = int(rng.integers(low, high + 1))
    return [store.words[i] for i in rng.integers(0, len(store.words), size=n)]


# ---------------------------------------------------------------------- the reference
def lp_reference(tokens1, tokens2, store, metric, normalize=False):
    """The same transport problem, built per token occurrence and solved by linprog (HiGHS).

    Independent of textkit: masses from plain loops, costs from np.linalg.norm of
    differences / explicit cosines, one LP variable per pair of occurrences.
    """
    def vec(t):
        return np.asarray(store.matrix[store.words.index(t)], dtype=np.float64)

    xs = [vec(t) for t in tokens1]
    ys = [vec(t) for t in tokens2]
    if metric == "wmd":
        if normalize:
            xs = [x / np.linalg.norm(x) for x in xs]
            ys = [y / np.linalg.norm(y) for y in ys]
        a = np.full(len(xs), 1.0 / len(xs))
        b = np.full(len(ys), 1.0 / len(ys))
        cost = np.array([[np.linalg.norm(x - y) for y in ys] for x in xs])
    else:
        na = np.array([np.linalg.norm(x) for x in xs])
        nb = np.array([np.linalg.norm(y) for y in ys])
        a, b = na / na.sum(), nb / nb.sum()
        cost = np.array([[1.0 - float(x @ y) / (np.linalg.norm(x) * np.linalg.norm(y)) for y in ys]
                         for x in xs])
    return lp_value(a, b, cost)


def lp_value(a, b, cost):
    """min <P, cost> over P >= 0 with row sums a and column sums b, by linprog (HiGHS)."""
    n, m = cost.shape
    a_eq = np.zeros((n + m, n * m))
    for i in range(n):
        a_eq[i, i * m:(i + 1) * m] = 1.0
    for j in range(m):
        a_eq[n + j, j::m] = 1.0
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=np.concatenate([a, b]), bounds=(0, None),
                  method="highs", options={"primal_feasibility_tolerance": 1e-10,
                                           "dual_feasibility_tolerance": 1e-10})
    assert res.status == 0, res.message
    return float(res.fun)


CASES = [(seed, metric, normalize) for seed in range(12)
         for metric, normalize in (("wmd", False), ("wmd", True), ("wrd", False))]


@pytest.mark.parametrize("seed,metric,normalize", CASES)
def test_matches_linprog(seed, metric, normalize):
    store = random_store(seed)
    rng = np.random.default_rng(1000 + seed)
    for _ in range(4):
        t1, t2 = random_tokens(rng, store), random_tokens(rng, store)
        if metric == "wmd":
            got = tr.wmd(t1, t2, store, normalize=normalize)
        else:
            got = tr.wrd(t1, t2, store)
        want = lp_reference(t1, t2, store, metric, normalize)
        assert got == pytest.approx(want, abs=1e-8, rel=0), (t1, t2)


@pytest.mark.parametrize("metric", ["wmd", "wrd"])
def test_fast_solver_equals_ot_emd2(metric):
    """The direct call of POT's network simplex returns what ot.emd2 returns."""
    store = random_store(3, n_words=30, dim=8)
    t = tr.Transport(store, metric=metric)
    rng = np.random.default_rng(5)
    checked = 0
    for _ in range(60):
        b1 = t.bag(random_tokens(rng, store, 2, 12))
        b2 = t.bag(random_tokens(rng, store, 2, 12))
        if len(b1) < 2 or len(b2) < 2:
            continue
        cost = t.cost(b1, b2)
        assert cost.flags.c_contiguous and cost.dtype == np.float64
        assert t.distance(b1, b2) == tr.emd2_reference(b1.mass, b2.mass, cost)
        checked += 1
    assert checked > 30


@pytest.mark.parametrize("metric,normalize", [("wmd", False), ("wmd", True), ("wrd", False)])
def test_bags_share_one_row_table_whatever_the_batching(metric, normalize):
    """Rows are read once per distinct word, and bags built in any batches are the same bags."""
    store = random_store(7, n_words=40, dim=5)
    store.matrix[3] = 0.0  # a zero row: no direction, counted as unknown for unit costs
    rng = np.random.default_rng(11)
    texts = [random_tokens(rng, store, 1, 10) for _ in range(60)] + [["w3", "w3"], ["w3", "w1"]]
    together = tr.Transport(store, metric=metric, normalize=normalize).bags(texts)
    apart_t = tr.Transport(store, metric=metric, normalize=normalize)
    apart = [b for k in range(0, len(texts), 7) for b in apart_t.bags(texts[k:k + 7])]
    met = {w for t in texts for w in t}
    assert apart_t._table.used == len(met) <= len(store.words)
    for b1, b2 in zip(together, apart):
        assert np.array_equal(b1.ids, b2.ids) and np.array_equal(b1.mass, b2.mass)
        assert (b1.n_tokens, b1.n_oov) == (b2.n_tokens, b2.n_oov)
        want = np.asarray(store.matrix, dtype=np.float64)[b1.ids]
        if metric == "wrd" or normalize:
            want = want / np.linalg.norm(want, axis=1, keepdims=True)
        assert np.array_equal(b1.rows, b2.rows) and np.allclose(b1.rows, want, rtol=1e-15, atol=0)
        if metric == "wmd":
            assert np.array_equal(b1.sq, np.einsum("ij,ij->i", b1.rows, b1.rows))
    zero_only = together[-2]
    assert zero_only.empty == (metric == "wrd" or normalize)


@pytest.mark.parametrize("metric", ["wmd", "wrd"])
def test_closed_forms_agree_with_lp(metric):
    store = random_store(4)
    t = tr.Transport(store, metric=metric)
    rng = np.random.default_rng(9)
    for _ in range(40):
        one = t.bag([store.words[int(rng.integers(len(store.words)))]] * int(rng.integers(1, 4)))
        tokens = random_tokens(rng, store, 2, 8)
        many = t.bag(tokens)
        for b1, b2 in ((one, many), (many, one)):
            lp = tr.emd2_reference(b1.mass, b2.mass, t.cost(b1, b2))
            assert t.distance(b1, b2) == pytest.approx(lp, rel=1e-13, abs=1e-15)
        same = t.bag(list(reversed(tokens)))
        assert t.distance(many, same) == 0.0
        assert tr.emd2_reference(many.mass, same.mass, t.cost(many, same)) == 0.0


def test_identical_texts_zero_and_similarity_one():
    store = random_store(1)
    text = ["w1", "w2", "w2", "w7"]
    shuffled = ["w2", "w7", "w1", "w2"]
    assert tr.wmd(text, shuffled, store) == 0.0
    assert tr.wmd(text, shuffled, store, normalize=True) == 0.0
    assert tr.wrd(text, shuffled, store) == 0.0
    assert tr.score_pairs([(text, shuffled)], store, metric="wrd")[0] == 1.0


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), metric=st.sampled_from(["wmd", "wmd-norm", "wrd"]),
       t1=st.lists(st.integers(0, 11), min_size=1, max_size=10),
       t2=st.lists(st.integers(0, 11), min_size=1, max_size=10))
def test_bounds_symmetry_and_range(seed, metric, t1, t2):
    store = random_store(seed, n_words=12, dim=5)
    t = tr.Transport(store, metric=metric[:3], normalize=metric == "wmd-norm")
    b1 = t.bag([f"w{i}" for i in t1])
    b2 = t.bag([f"w{i}" for i in t2])
    exact = t.distance(b1, b2)
    assert exact >= 0.0
    assert t.distance(b2, b1) == pytest.approx(exact, abs=1e-12)
    assert t.centroid_bound(b1, b2) <= exact + 1e-12
    assert t.relaxed_bound(b1, b2) <= exact + 1e-12
    assert t.relaxed_bound(b1, b2) <= t.dual_bound(b1, b2) + 1e-12  # the dual bound is never looser
    assert t.dual_bound(b1, b2) <= exact + 1e-12
    if metric == "wrd":
        assert exact <= 2.0
    if metric == "wmd-norm":
        assert exact <= 2.0 + 1e-12


def test_relaxed_bound_is_tighter_than_nothing():
    """RWMD is positive for disjoint texts and equals the exact value for one-word sides."""
    store = random_store(2)
    t = tr.Transport(store, metric="wmd")
    b1, b2 = t.bag(["w1"]), t.bag(["w2", "w3"])
    assert t.relaxed_bound(b1, b2) == pytest.approx(t.distance(b1, b2), rel=1e-12)
    assert t.relaxed_bound(t.bag(["w1", "w4"]), b2) > 0


def test_dual_bound_reaches_the_optimum_where_rwmd_does_not():
    """Hand-solved 2 x 2 case: x->p 1, x->r 3, y->p 2, y->r 10, all masses 1/2.

    The optimum sends x->r and y->p (1.5 + 1 = 2.5); RWMD = max(1.5, 2) = 2;
    the dual point f = (1, 2), g = (0, 2) gives 1.5 + 1 = 2.5.
    """
    cost = np.array([[1.0, 3.0], [2.0, 10.0]])
    half = np.array([0.5, 0.5])
    optimum = linprog(cost.ravel(), A_eq=[[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 1, 0, 1]],
                      b_eq=[0.5, 0.5, 0.5, 0.5], bounds=(0, None), method="highs").fun
    assert optimum == pytest.approx(2.5)
    rwmd = max(half @ cost.min(axis=1), half @ cost.min(axis=0))
    assert rwmd == pytest.approx(2.0)
    assert tr._dual_value(cost, half, half) == pytest.approx(2.5)
    assert tr._dual_value(cost.T, half, half) == pytest.approx(2.5)  # g = (1, 3), f = (0, 1)


def test_wrd_masses_proportional_to_norm_and_zero_vector_dropped():
    matrix = np.array([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    store = FakeVectors(["a", "b", "z"], matrix)
    t = tr.Transport(store, metric="wrd")
    bag = t.bag(["a", "b", "b", "z", "q"])
    assert bag.ids.tolist() == [0, 1]
    assert bag.mass.tolist() == pytest.approx([3 / 5, 2 / 5])
    assert bag.n_tokens == 5 and bag.n_oov == 2
    # moving 2/5 of the mass from b to a at cost 1 - cos = 1
    assert tr.wrd(["a", "b", "b"], ["a"], store) == pytest.approx(0.4)


def test_oov_drop_counts_and_error_policy():
    store = random_store(0)
    t = tr.Transport(store, metric="wmd")
    bag = t.bag(["w1", "nope", "w2", "nope"])
    assert (bag.n_tokens, bag.n_oov) == (4, 2)
    assert tr.wmd(["w1", "nope"], ["w2"], store) == tr.wmd(["w1"], ["w2"], store)
    with pytest.raises(DataError, match="nope"):
        tr.wmd(["w1", "nope"], ["w2"], store, oov="error")


@pytest.mark.parametrize("side", [[], ["unknown", "words"]])
def test_empty_side_raises_in_single_pair_api(side):
    store = random_store(0)
    with pytest.raises(tr.EmptyBagError, match="text 1 has no word"):
        tr.wrd(side, ["w1"], store)
    with pytest.raises(tr.EmptyBagError, match="text 2 has no word"):
        tr.wmd(["w1"], side, store)


@pytest.mark.parametrize("scale", [1e-30, 1.0, 1e20])
def test_longest_row_of_an_int8_matrix_equals_decoding_every_row(scale):
    """The int8 screen (norms from the codes) finds exactly the longest decoded row, ties included."""
    from textkit.quantized import Int8Matrix, quantize_rows

    rng = np.random.default_rng(7)
    for trial in range(60):
        rows = rng.standard_normal((int(rng.integers(1, 40)), int(rng.integers(1, 12)))) * scale
        if trial % 5 == 0:
            rows[:] = rows[0]  # every row the same length
        if trial % 9 == 0:
            rows[:] = 0
        matrix = Int8Matrix(*quantize_rows(rows))
        decoded = np.asarray(matrix, dtype=np.float64)
        want = float(np.sqrt(np.einsum("ij,ij->i", decoded, decoded).max()))
        assert tr._max_row_norm(matrix) == want
    rows = rng.standard_normal((20_000, 3)) * scale  # several blocks of the screen, the longest in the last
    rows[-5] *= 3
    matrix = Int8Matrix(*quantize_rows(rows))
    decoded = np.asarray(matrix, dtype=np.float64)
    assert tr._max_row_norm(matrix) == float(np.sqrt(np.einsum("ij,ij->i", decoded, decoded).max()))


def test_score_pairs_error_value_mask_and_warning(caplog):
    store = random_store(0)
    pairs = [(["w1", "w2"], ["w3"]), ([], ["w1"]), (["zzz"], ["w2"]), (["w4"], ["w4", "w5"])]
    logger = logging.getLogger("textkit")  # the CLI may have stopped it propagating to the root
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="textkit"):
            scores, valid = tr.score_pairs(pairs, store, metric="wrd", with_mask=True)
    finally:
        logger.removeHandler(caplog.handler)
    assert valid.tolist() == [True, False, False, True]
    assert np.isfinite(scores).all()
    assert scores[1] == scores[2] == -1.0
    assert scores[0] == pytest.approx(1 - tr.wrd(*pairs[0], store), abs=0)
    assert "2 pair(s) with a side that has no word" in caplog.text
    assert "dropped 1 of 9 tokens" in caplog.text
    wmd = tr.score_pairs(pairs, store, metric="wmd")
    norms = np.linalg.norm(store.matrix.astype(np.float64), axis=1)
    assert wmd[1] == pytest.approx(2 * norms.max())
    assert wmd[3] == tr.wmd(*pairs[3], store)
    # the error value is the worst the metric can give: above every real distance
    assert wmd[1] >= wmd[0] and wmd[1] >= wmd[3]
    assert tr.score_pairs(pairs[1:2], store, metric="wmd", normalize=True)[0] == 2.0


def test_explain_flows_add_up_to_the_distance():
    store = random_store(6)
    t = tr.Transport(store, metric="wrd")
    b1, b2 = t.bag(["w1", "w2", "w3", "w3"]), t.bag(["w4", "w5", "w1"])
    flows = t.explain(b1, b2, top=0)
    assert sum(f.mass for f in flows) == pytest.approx(1.0)
    assert sum(f.contribution for f in flows) == pytest.approx(t.distance(b1, b2), abs=1e-12)
    top = t.explain(b1, b2, top=2)
    assert len(top) == 2 and top[0].contribution >= top[1].contribution
    assert {f.source for f in flows} == {"w1", "w2", "w3"}


def test_sinkhorn_is_an_approximation_near_the_exact_value():
    store = random_store(8)
    exact = tr.Transport(store, metric="wmd", normalize=True)
    approx = tr.Transport(store, metric="wmd", normalize=True, sinkhorn=0.005)
    b1, b2 = exact.bag(["w1", "w2", "w3"]), exact.bag(["w4", "w5", "w6", "w1"])
    d, s = exact.distance(b1, b2), approx.distance(b1, b2)
    assert s == pytest.approx(d, abs=0.05)
    assert s >= d - 1e-6  # the entropic plan is feasible, so it cannot cost less


def test_sinkhorn_that_does_not_converge_falls_back_to_the_exact_value(caplog):
    """A tiny EPS leaves Sinkhorn's marginals off (WRD similarities of -5 were printed): such a pair is
    solved exactly, and one warning says so."""
    store = random_store(8)
    exact = tr.Transport(store, metric="wrd")
    tiny = tr.Transport(store, metric="wrd", sinkhorn=1e-300)
    pairs = [(["w1", "w2", "w3"], ["w4", "w5", "w6", "w1"]), (["w7", "w2"], ["w3", "w9"])]
    with caplog.at_level(logging.WARNING, logger="textkit"):
        got = [tiny.distance(tiny.bag(x), tiny.bag(y)) for x, y in pairs]
    assert got == [exact.distance(exact.bag(x), exact.bag(y)) for x, y in pairs]
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and "did not converge" in notes[0] and "solved exactly" in notes[0]


def test_bad_parameters():
    store = random_store(0)
    with pytest.raises(UsageError):
        tr.Transport(store, metric="cosine")
    with pytest.raises(UsageError):
        tr.Transport(store, oov="keep")
    with pytest.raises(UsageError):
        tr.Transport(store, sinkhorn=0.0)


def test_agrees_with_gensim_wmdistance():
    kv_mod = pytest.importorskip("gensim.models.keyedvectors")
    store = random_store(11, n_words=40, dim=10)
    kv = kv_mod.KeyedVectors(vector_size=10)
    kv.add_vectors(store.words, store.matrix)
    rng = np.random.default_rng(2)
    for _ in range(25):
        t1, t2 = random_tokens(rng, store, 2, 10), random_tokens(rng, store, 2, 10)
        ours = tr.wmd(t1, t2, store, normalize=True)
        assert ours == pytest.approx(kv.wmdistance(t1, t2, norm=True), abs=1e-6)
        raw = tr.wmd(t1, t2, store)
        assert raw == pytest.approx(kv.wmdistance(t1, t2, norm=False), abs=1e-5 * max(1.0, raw))
    assert math.isinf(kv.wmdistance(["zzz"], ["w1"]))  # what textkit avoids


def test_pot_is_imported_only_when_a_transport_is_made():
    """`sim --metric cosine` and the other commands do not pay for POT's import (~0.8 s)."""
    import subprocess
    import sys

    code = "import sys, textkit.transport, textkit.cli.sim, textkit.evaluate; print('ot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    t = tr.Transport(random_store(0), metric="wmd")
    assert tr._emd_c is not None  # bound for the fast path
    assert t.distance(t.bag(["w1"]), t.bag(["w2", "w3"])) > 0


def _fresh_python(code: str) -> list[str]:
    """The lines a fresh interpreter prints running ``code`` (POT not imported yet)."""
    import subprocess
    import sys
    import textwrap

    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_exact_solver_loads_without_the_rest_of_pot():
    """A Transport loads POT's solver alone (not scipy, ~0.8 s); a later `import ot` still gets all of POT."""
    printed = _fresh_python("""
        import sys
        import numpy as np
        from textkit import transport as tr
        tr._solver()
        print("ot.backend" in sys.modules, "scipy.spatial" in sys.modules, "scipy.stats" in sys.modules)
        a, b = np.array([0.25, 0.75]), np.array([0.6, 0.4])
        cost = np.array([[0.0, 2.0], [1.0, 0.5]])
        value = tr._solve_lp(a, b, cost)[0]
        import ot  # what another library in the same process would do
        print(ot.emd2(a, b, cost) == value and abs(value - 0.55) < 1e-12, ot.lp.emd_wrap.emd_c is tr._emd_c,
              callable(ot.sinkhorn2), ot.utils.dist.__module__, type(ot).__name__, ot.__version__ > "0")
        # the solver's own reference to ot.utils.dist (a forwarder) reaches the real function
        print(ot.lp.emd_wrap.dist(np.zeros((1, 2)), np.ones((1, 2)))[0, 0] == 2.0)
    """)
    assert printed == ["False", "False", "False", "True", "True", "True", "ot.utils", "module", "True", "True"]


def test_solver_falls_back_to_the_whole_of_pot():
    """If the solver cannot load on its own, no stand-in is left behind and POT is imported as usual."""
    printed = _fresh_python("""
        import sys
        class FailOnce:  # the first attempt to load the solver fails, as with a POT laid out otherwise
            tried = False
            def find_spec(self, name, path=None, target=None):
                if name == "ot.lp.emd_wrap" and not FailOnce.tried:
                    FailOnce.tried = True
                    raise ImportError("simulated")
                return None
        sys.meta_path.insert(0, FailOnce())
        from textkit import transport as tr
        tr._solver()
        import ot
        print(FailOnce.tried, tr._emd_c is ot.lp.emd_wrap.emd_c, type(ot).__name__, "ot.datasets" in sys.modules)
    """)
    assert printed == ["True", "True", "module", "True"]


def test_solver_and_sinkhorn_when_pot_is_already_imported():
    """With POT imported first, the solver is POT's own; Sinkhorn brings the whole package."""
    printed = _fresh_python("""
        import ot
        from textkit import transport as tr
        tr._solver()
        print(tr._emd_c is ot.lp.emd_wrap.emd_c, type(ot).__name__)
    """)
    assert printed == ["True", "module"]
    printed = _fresh_python("""
        import sys
        import numpy as np
        from textkit import transport as tr
        class Store:
            words = ["a", "b", "c"]
            matrix = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
            def lookup(self, tokens):
                ids = np.array([self.words.index(t) if t in self.words else -1 for t in tokens], dtype=np.int64)
                return ids, ids >= 0
        t = tr.Transport(Store(), metric="wmd", sinkhorn=0.05)
        exact = tr.Transport(Store(), metric="wmd")
        pair = (["a", "b"], ["c", "a"])
        approx, value = t.distance(*map(t.bag, pair)), exact.distance(*map(exact.bag, pair))
        print("ot.bregman" in sys.modules, abs(approx - value) < 0.05, approx >= value - 1e-9)
    """)
    assert printed == ["True", "True", "True"]


def naive_bag(tokens, store, metric, normalize=False):
    """(ids, masses, n_oov) of one text by plain loops: the masses of the module docstring."""
    counts = {}
    n_oov = 0
    for t in tokens:
        if t not in store.words:
            n_oov += 1
            continue
        i = store.words.index(t)
        norm = math.sqrt(sum(float(x) ** 2 for x in store.matrix[i]))
        if (metric == "wrd" or normalize) and norm == 0:
            n_oov += 1
            continue
        counts[i] = counts.get(i, 0) + (norm if metric == "wrd" else 1.0)
    total = sum(counts.values())
    ids = sorted(counts)
    return ids, [counts[i] / total for i in ids], n_oov


@pytest.mark.parametrize("metric,normalize", [("wmd", False), ("wmd", True), ("wrd", False)])
def test_bags_of_many_texts_equal_bags_one_by_one_and_a_naive_count(metric, normalize):
    store = random_store(5, n_words=10, dim=4)
    store.matrix[3] = 0.0
    rng = np.random.default_rng(8)
    texts = [random_tokens(rng, store, 0, 12) + ["oov"] * int(rng.integers(0, 2)) for _ in range(40)]
    texts += [[], ["w3"], ["oov"], texts[0]]
    t = tr.Transport(store, metric=metric, normalize=normalize)
    together = t.bags(texts)
    reversed_ = t.bags(texts[::-1])[::-1]
    for tokens, bag, other in zip(texts, together, reversed_):
        alone = t.bag(tokens)
        for b in (bag, other):  # a bag does not depend on the other texts of the call
            assert np.array_equal(b.ids, alone.ids) and np.array_equal(b.mass, alone.mass)
            assert np.array_equal(b.rows, alone.rows) and (b.n_tokens, b.n_oov) == (alone.n_tokens, alone.n_oov)
            assert b.rows.flags.c_contiguous and b.mass.flags.c_contiguous
        ids, masses, n_oov = naive_bag(tokens, store, metric, normalize)
        assert bag.ids.tolist() == ids and bag.n_oov == n_oov and bag.n_tokens == len(tokens)
        assert bag.mass.tolist() == pytest.approx(masses, abs=1e-15)
        assert bag.empty == (not ids)


def test_bags_oov_error_names_the_first_text_with_an_unknown_word():
    store = random_store(0)
    t = tr.Transport(store, metric="wrd", oov="error")
    with pytest.raises(DataError, match=r"^second: 1 distinct token\(s\) not in the vectors, first 'zz'"):
        t.bags([["w1"], ["w2", "zz", "zz"], ["yy"]], ["first", "second", "third"])
    assert len(t.bags([["w1"], ["w2", "w2"]])) == 2


def naive_split(token, words, longest=tr.MAX_PIECE):
    """Greedy longest match of ``token`` over ``words`` by plain loops (the split reference)."""
    if token in words:
        return [token]
    out, i = [], 0
    while i < len(token):
        for j in range(min(len(token), i + longest), i, -1):
            if token[i:j] in words:
                out.append(token[i:j])
                i = j
                break
        else:
            i += 1
    return out


@pytest.mark.parametrize("metric,normalize", [("wmd", False), ("wmd", True), ("wrd", False)])
def test_oov_split_equals_dropping_after_a_naive_split(metric, normalize):
    words = ["中", "国", "中国", "人", "大学", "大", "学生", "ab", "a", "c1"]
    rng = np.random.default_rng(4)
    store = FakeVectors(words, rng.normal(size=(len(words), 4)))
    store.matrix[words.index("a")] = 0.0  # a zero piece: dropped by WRD and unit WMD
    split = tr.Transport(store, metric=metric, normalize=normalize, oov="split")
    drop = tr.Transport(store, metric=metric, normalize=normalize, oov="drop")
    pool = ["中国人", "中国大学生", "人中", "abc1", "ab", "zz", "学生中国", "x大y", "中国"]
    texts = [[pool[i] for i in rng.integers(0, len(pool), size=rng.integers(0, 6))] for _ in range(60)]
    texts.append(["zz", "zz"])
    for tokens, bag in zip(texts, split.bags(texts)):
        pieces = [p for t in tokens for p in naive_split(t, words)]
        ref = drop.bag(pieces)
        assert np.array_equal(bag.ids, ref.ids) and np.array_equal(bag.mass, ref.mass)
        assert bag.n_tokens == len(tokens)
        no_piece = sum(1 for t in tokens if not naive_split(t, words))
        zero_pieces = ref.n_oov  # zero-vector pieces, counted as unknown by WRD and unit WMD
        assert bag.n_oov == no_piece + zero_pieces
    assert [words[i] for i in split.pieces("中国大学生")] == ["中国", "大学"]  # 生 begins no known piece
    assert split.pieces("zz") == ()
    assert len(split.pieces("中" * 40)) == 40  # long tokens: pieces of at most MAX_PIECE characters


def test_oov_split_is_an_accepted_policy_and_others_are_not():
    store = random_store(0)
    assert tr.wrd(["w1w2", "w3"], ["w3", "w2", "w1"], store, oov="split") == 0.0  # same bag
    assert tr.wrd(["w1w2", "w3"], ["w3", "w2", "w1"], store) > 0  # dropped: only w3 is left
    with pytest.raises(UsageError, match="drop, error or split"):
        tr.Transport(store, oov="guess")


def test_iteration_limit_grows_with_the_problem_and_a_short_stop_is_an_error(monkeypatch):
    """POT's fixed 100,000 iterations stop short on long texts: the limit starts at 10 per variable and
    grows tenfold while the optimum is not reached; a solve stopped early (whose plan is not even a
    transport plan) is an error, never a score."""
    tr._solver()
    rng = np.random.default_rng(3)
    a, b = rng.random(40), rng.random(50)
    a, b = a / a.sum(), b / b.sum()
    cost = rng.random((40, 50))
    exact = lp_value(a, b, cost)
    seen = []
    real = tr._emd_c
    monkeypatch.setattr(tr, "_emd_c", lambda *args: seen.append(args[3]) or real(*args))
    tr._solve_lp(np.full(500, 1 / 500), np.full(400, 1 / 400), rng.random((500, 400)))
    assert seen == [2_000_000]
    seen.clear()
    assert abs(tr._solve_lp(a, b, cost)[0] - exact) < 1e-9 and seen == [100_000]  # never below POT's default
    monkeypatch.setattr(tr, "ITER_PER_VARIABLE", 0)  # start from too few: raised until optimal
    monkeypatch.setattr(tr, "MAX_ITER", 3)
    seen.clear()
    assert abs(tr._solve_lp(a, b, cost)[0] - exact) < 1e-9 and seen[:3] == [3, 30, 300]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # POT's UserWarning must not escape either
        with pytest.raises(DataError, match="did not reach the optimum of a 40 x 50 transport problem within 5 "):
            tr._solve_lp(a, b, cost, max_iter=5)


def test_costs_do_not_depend_on_where_the_rows_lie_in_memory():
    # workers score pairs on arrays at other addresses than one process would: the bits of a
    # cost must not change (OpenBLAS's matrix-vector sums did, with numpy 1.26)
    rng = np.random.default_rng(3)
    for _ in range(200):
        n, m, dim = int(rng.integers(1, 4)), int(rng.integers(1, 30)), int(rng.choice([6, 100, 144]))
        x, y = rng.normal(size=(n, dim)), rng.normal(size=(m, dim))
        want, want_swapped = tr._gram(x, y), tr._gram(y, x)
        for offset in range(1, 8):  # the same values, 8 to 56 bytes further on
            sx = np.empty(x.size + offset)[offset:].reshape(x.shape)
            sy = np.empty(y.size + offset)[offset:].reshape(y.shape)
            sx[...], sy[...] = x, y
            assert np.array_equal(tr._gram(sx, sy), want) and np.array_equal(tr._gram(sy, sx), want_swapped)


def test_wmd_of_nearly_equal_vectors_is_their_distance_not_rounding():
    """The Gram form's rounding under a square root gave 2.7e-6 for vectors 1.2e-7 apart."""
    from textkit.vectors import Vectors

    x = np.random.default_rng(0).standard_normal(300).astype(np.float32) * 10
    y = x.copy()
    y[0] = np.nextafter(y[0], np.float32(1e9))
    vectors = Vectors(["a", "c", "d"], np.stack([x, y, -x]))
    want = float(np.linalg.norm(x.astype(np.float64) - y.astype(np.float64)))
    assert tr.wmd(["a"], ["c"], vectors) == pytest.approx(want, rel=1e-9)
    assert tr.wmd(["a", "d"], ["c", "d"], vectors) == pytest.approx(want / 2, rel=1e-9)
    assert tr.wmd(["a"], ["a"], vectors) == 0.0
