"""Tokenizers against the naive reference: jieba.cut per line, the same filters."""

from __future__ import annotations

import marshal
import os
import unicodedata
from collections import Counter

import jieba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.errors import TextkitError, UsageError
from textkit.tokenize import HAN_PIECE, _SKIP, Tokenizer, TokenizerSpec, get_tokenizer

jieba.setLogLevel(60)


def naive_tokens(text, spec: TokenizerSpec, segmenter=jieba.dt):
    """The reference: jieba's public API, then the documented filters, one token at a time."""
    if spec.kind == "jieba":
        if spec.mode == "search":
            raw = segmenter.cut_for_search(text, HMM=spec.hmm)
        else:
            raw = segmenter.cut(text, cut_all=spec.mode == "all", HMM=spec.hmm)
    elif spec.kind == "char":
        raw = list(text)
    else:  # control characters separate words, as spaces do
        raw = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).split()
    out = []
    for tok in raw:
        if spec.lower:
            tok = tok.lower()
        if not tok.strip() or any(unicodedata.category(c) == "Cc" for c in tok):
            continue
        if not spec.keep_punct and not any(unicodedata.category(c)[0] in "LNM" for c in tok):
            continue
        if len(tok) < spec.min_len or (spec.max_len and len(tok) > spec.max_len):
            continue
        out.append(tok)
    return out


def test_patterns_are_jiebas():
    assert HAN_PIECE.pattern == jieba.re_han_default.pattern
    assert _SKIP.pattern == jieba.re_skip_default.pattern


SPECS = [
    TokenizerSpec(),
    TokenizerSpec(hmm=False),
    TokenizerSpec(mode="all"),
    TokenizerSpec(mode="search"),
    TokenizerSpec(keep_punct=True),
    TokenizerSpec(min_len=2, max_len=3),
    TokenizerSpec(kind="char"),
    TokenizerSpec(kind="whitespace", lower=True),
]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_tokens_equal_naive_on_sample(spec, sample_lines):
    tok = get_tokenizer(spec)
    lines = sample_lines[:400]
    for line in lines:
        assert tok.tokens(line) == naive_tokens(line, spec), line
    expected = Counter()
    for line in lines:
        expected.update(naive_tokens(line, spec))
    assert tok.count(lines) == expected


# Text made of dictionary words, unknown Han characters, Latin, digits, punctuation
# and whitespace, so that routes, HMM runs and the glueing of ASCII are all exercised.
_ALPHABET = list("中华人民共和国北京大学生活动研究所的了是在我有他这") + list("囧嘤嘚䶮") + \
    list("abcXYZ019") + list("，。！？、 \t　.-%#&+_@") + ["\u3000", "\r"]
_WORDS = ["中华人民共和国", "研究生命", "北京大学", "iPhone12"]
_TEXT = st.lists(st.sampled_from(_ALPHABET + _WORDS), max_size=40).map("".join)
# and control characters, which separate words (a corpus file with a NUL is binary: not in _TEXT)
_TEXT_WITH_CONTROLS = st.lists(st.sampled_from(_ALPHABET + _WORDS + ["\x00", "\x1b", "\x7f", "\x85"]),
                               max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT_WITH_CONTROLS)
def test_tokens_equal_naive_on_generated_text(text):
    for spec in (TokenizerSpec(), TokenizerSpec(hmm=False), TokenizerSpec(keep_punct=True),
                 TokenizerSpec(mode="all", keep_punct=True), TokenizerSpec(mode="search", keep_punct=True),
                 TokenizerSpec(kind="char", keep_punct=True), TokenizerSpec(kind="whitespace", keep_punct=True)):
        assert get_tokenizer(spec).tokens(text) == naive_tokens(text, spec)


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, max_size=12))
def test_count_equals_counting_tokens(docs):
    tok = get_tokenizer(TokenizerSpec())
    expected = Counter()
    for d in docs:
        expected.update(naive_tokens(d, tok.spec))
    assert tok.count(docs) == expected
    counts, df, n = tok.count_with_df(docs)
    assert counts == expected and n == len(docs)
    assert df == Counter(w for d in docs for w in set(naive_tokens(d, tok.spec)))


def test_memo_bound_does_not_change_results(monkeypatch, sample_lines):
    import textkit.tokenize as tk

    spec = TokenizerSpec(min_len=1, max_len=50)  # a spec of its own: a fresh memo
    full = Tokenizer(spec).count(sample_lines[:200])
    monkeypatch.setattr(tk, "_MEMO_LIMIT", 5)
    assert Tokenizer(spec).count(sample_lines[:200]) == full


def test_punctuation_dropped_unless_kept():
    text = "你好，世界！ ＠＠ 2024年"
    assert get_tokenizer(TokenizerSpec()).tokens(text) == ["你好", "世界", "2024", "年"]
    kept = get_tokenizer(TokenizerSpec(keep_punct=True)).tokens(text)
    assert "，" in kept and "！" in kept and " " not in kept


def test_stopwords_default_and_file(tmp_path):
    text = "我们的生活是美好的"
    default = get_tokenizer(TokenizerSpec(stopwords="default")).tokens(text)
    assert "的" not in default and "我们" not in default and "生活" in default
    stop = tmp_path / "stop.txt"
    stop.write_text("生活\n\n 美好 \n", encoding="utf-8")
    assert get_tokenizer(TokenizerSpec(stopwords=str(stop))).tokens(text) == ["我们", "的", "是", "的"]


def test_lower_for_latin():
    tok = get_tokenizer(TokenizerSpec(kind="whitespace", lower=True))
    assert tok.tokens("Hello HELLO world") == ["hello", "hello", "world"]


def test_user_dict_is_honoured(tmp_path):
    text = "蓝莓芝士蛋糕真好吃"
    base = get_tokenizer(TokenizerSpec()).tokens(text)
    assert "蓝莓芝士蛋糕" not in base
    user = tmp_path / "user.txt"
    user.write_text("蓝莓芝士蛋糕 10\n", encoding="utf-8")
    spec = TokenizerSpec(user_dict=str(user))
    tok = get_tokenizer(spec)
    assert "蓝莓芝士蛋糕" in tok.tokens(text)
    assert tok.in_dictionary("蓝莓芝士蛋糕") and tok.in_dictionary("蛋糕")
    assert not get_tokenizer(TokenizerSpec()).in_dictionary("蓝莓芝士蛋糕")


def test_a_frequency_0_word_stays_with_its_user_dictionary(tmp_path, sample_lines):
    """jieba keeps words of frequency 0 (always cut into characters) for the whole process; a
    textkit tokenizer keeps them to itself: other tokenizers, jieba's own cut and jieba's log
    level are as they were, and the tokenizer with the dictionary cuts as jieba does with it."""
    import logging

    import jieba.finalseg

    from textkit.tokenize import _HmmSegmenter

    runs = [line[k:k + 6] for line in sample_lines[:300] for k in range(0, len(line), 5)]
    forced = next(w for run in runs for w in jieba.finalseg.cut(run) if len(w) > 1)  # an HMM word
    text = next(line for line in sample_lines if forced in line)
    user = tmp_path / "user.txt"
    user.write_text(f"{forced} 0\n", encoding="utf-8")
    before = get_tokenizer(TokenizerSpec(min_len=2)).tokens(text)
    jieba_before = list(jieba.cut(text))
    jieba.setLogLevel(logging.DEBUG)
    try:
        with_dict = get_tokenizer(TokenizerSpec(user_dict=str(user)))
        assert jieba.default_logger.level == logging.DEBUG
    finally:
        jieba.setLogLevel(60)
    assert set(jieba.finalseg.Force_Split_Words) == set()
    assert get_tokenizer(TokenizerSpec(min_len=3)).tokens(text) == [t for t in before if len(t) >= 3]
    assert list(jieba.cut(text)) == jieba_before
    reference = jieba.Tokenizer()
    reference.load_userdict(str(user))  # jieba's way: the process-wide set, for this comparison only
    try:
        assert with_dict.tokens(text) == naive_tokens(text, TokenizerSpec(), reference)
        assert forced not in with_dict.tokens(text)
    finally:
        jieba.finalseg.Force_Split_Words.discard(forced)
    assert _HmmSegmenter().force_split == frozenset()


def test_user_dict_lines_jieba_would_misread_are_skipped_with_one_warning(tmp_path, caplog):
    """``word<TAB>3``, ``word -5``, ``word 3 NR``: jieba would add a word holding whitespace (never
    cut from any text) and lose the count; textkit skips such lines, says so once naming the first,
    and cuts exactly as jieba does with the well-formed lines alone."""
    good = ["蓝莓芝士蛋糕 10", "草莓蛋糕 7 n", "真好 3"]
    bad = ["好吃的\t5", "芝士蛋糕 -5", "真好吃 3 NR", "慕斯  2"]
    user = tmp_path / "user.txt"
    user.write_text("\n".join([good[0], bad[0], "", bad[1], good[1], bad[2], good[2], bad[3]]) + "\n",
                    encoding="utf-8")
    only_good = tmp_path / "good.txt"
    only_good.write_text("\n".join(good) + "\n", encoding="utf-8")
    text = "蓝莓芝士蛋糕真好吃，好吃的草莓蛋糕和芝士蛋糕，慕斯"
    with caplog.at_level("WARNING", logger="textkit"):
        tok = Tokenizer(TokenizerSpec(user_dict=str(user)))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert f"{user}:2: '好吃的\\t5' is not `word [count] [tag]`" in warnings[0]
    assert "(and 3 more such lines)" in warnings[0]
    assert tok.tokens(text) == Tokenizer(TokenizerSpec(user_dict=str(only_good))).tokens(text)
    reference = jieba.Tokenizer()
    reference.load_userdict(str(only_good))
    assert tok.tokens(text) == naive_tokens(text, TokenizerSpec(), reference)
    assert not any(" " in word or "\t" in word for word in tok._jieba.FREQ)
    caplog.clear()
    fresh = tmp_path / "good-again.txt"  # a path not loaded yet (the dictionaries are cached by path)
    fresh.write_text(only_good.read_text(encoding="utf-8"), encoding="utf-8")
    with caplog.at_level("WARNING", logger="textkit"):
        Tokenizer(TokenizerSpec(user_dict=str(fresh)))
    assert not caplog.records


def test_missing_user_dict_and_stopwords_are_errors(tmp_path):
    with pytest.raises(TextkitError, match="no such file"):
        Tokenizer(TokenizerSpec(user_dict=str(tmp_path / "nope.txt")))
    with pytest.raises(TextkitError, match="no such file"):
        Tokenizer(TokenizerSpec(stopwords=str(tmp_path / "nope.txt")))


def test_invalid_spec_values():
    with pytest.raises(UsageError):
        TokenizerSpec(kind="bpe")
    with pytest.raises(UsageError):
        TokenizerSpec(min_len=3, max_len=2)


def test_the_cached_prefix_dictionary_is_jiebas_own(tmp_path):
    """Built and kept by textkit, then loaded in one read: equal to jieba's initialize; a bad or
    missing cache is rebuilt."""
    from textkit.tokenize import _build_prefix_dict, _load_cached_prefix_dict

    cache = str(tmp_path / "prefix.marshal")
    built = jieba.Tokenizer()
    _build_prefix_dict(built, cache)
    fast = jieba.Tokenizer()
    assert _load_cached_prefix_dict(fast, cache)
    own = jieba.Tokenizer()
    own.initialize()
    for segmenter in (built, fast):
        assert segmenter.initialized and segmenter.total == own.total and segmenter.FREQ == own.FREQ
        assert segmenter.lcut("他来到了网易杭研大厦") == own.lcut("他来到了网易杭研大厦")

    elsewhere = jieba.Tokenizer()
    assert not _load_cached_prefix_dict(elsewhere, str(tmp_path / "absent.marshal"))
    real = (tmp_path / "prefix.marshal").read_bytes()
    for damaged in (b"not a marshal", real[: len(real) // 2], marshal.dumps(("FREQ", 3))):
        (tmp_path / "prefix.marshal").write_bytes(damaged)
        assert not _load_cached_prefix_dict(elsewhere, cache)
        assert not elsewhere.initialized
    custom = jieba.Tokenizer(dictionary=str(tmp_path / "dict.txt"))
    assert not _load_cached_prefix_dict(custom, cache)  # only jieba's default dictionary has that cache
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prefix.marshal"]  # no temporary file left


def _fresh_process(code, env):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=dict(os.environ, **env))


def test_jieba_loads_without_pkg_resources_and_builds_its_dictionary(tmp_path):
    """A fresh process: jieba imported without pkg_resources, and with no cache it still finds its dict.txt."""
    code = (
        "import sys\n"
        "from textkit.tokenize import TokenizerSpec, get_tokenizer\n"
        "print(' '.join(get_tokenizer(TokenizerSpec()).tokens('他来到了网易杭研大厦')))\n"
        "print('pkg_resources' in sys.modules, sys.modules['jieba'].__name__)\n"
        "print(sys.modules.get('pkg_resources', 0) is None)  # not left hidden from others\n"
    )
    out = _fresh_process(code, {"XDG_CACHE_HOME": str(tmp_path)})  # no cache there: it is built
    lines = out.stdout.splitlines()
    assert lines[0].split() == jieba.lcut("他来到了网易杭研大厦")
    assert lines[1:] == ["False jieba", "False"] and out.stderr == ""
    (cache,) = (tmp_path / "textkit").iterdir()
    assert cache.name.startswith("jieba-") and (tmp_path / "textkit").stat().st_mode & 0o777 == 0o700


def test_the_dictionary_cache_is_private_and_never_a_shared_file(tmp_path):
    """Not jieba's /tmp/jieba.cache, which another user's run may own; with no writable place for a
    cache the run still works, silently and without leaving files behind."""
    code = ("from textkit.tokenize import TokenizerSpec, get_tokenizer\n"
            "print(' '.join(get_tokenizer(TokenizerSpec()).tokens('他来到了网易杭研大厦')))\n")
    shared = tmp_path / "tmp"
    shared.mkdir()
    (shared / "jieba.cache").write_bytes(b"another user's file")
    (shared / "jieba.cache").chmod(0o000)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    (shared / f"textkit-{os.getuid()}").write_text("", encoding="utf-8")  # the fallback is taken too
    out = _fresh_process(code, {"XDG_CACHE_HOME": str(blocked), "HOME": str(blocked), "TMPDIR": str(shared)})
    assert out.stdout.split() == jieba.lcut("他来到了网易杭研大厦") and out.stderr == ""
    assert sorted(p.name for p in shared.iterdir()) == ["jieba.cache", f"textkit-{os.getuid()}"]
    (shared / "jieba.cache").chmod(0o600)
    assert (shared / "jieba.cache").read_bytes() == b"another user's file"


# Han characters frequent and rare (some absent from the HMM's emission tables), and ASCII
_HMM_ALPHABET = list("的一是了我不人在有这个上们来到时大地为子中说生国年着就和要出也得里后自以会家可下而过天")
_HMM_ALPHABET += list("囧嘤嘚䶮龘靐") + list("ab9.%")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_HMM_ALPHABET), min_size=1, max_size=16).map("".join))
def test_hmm_segmenter_equals_jiebas_finalseg(run):
    import jieba.finalseg

    from textkit.tokenize import _HmmSegmenter

    assert _HmmSegmenter().cut(run) == list(jieba.finalseg.cut(run))


def test_hmm_segmenter_honours_its_force_split_words(sample_lines):
    """Words of its own force-split set are cut into characters as jieba cuts the words of its
    process-wide set; words of that process-wide set alone are not (they belong to other tokenizers)."""
    import jieba.finalseg

    from textkit.tokenize import _HmmSegmenter

    runs = [line[k:k + 6] for line in sample_lines[:300] for k in range(0, len(line), 5)]
    words = [w for run in runs for w in jieba.finalseg.cut(run) if len(w) > 1]
    assert words, "the sample gives multi-character HMM words"
    forced = words[0]
    plain, own = _HmmSegmenter(), _HmmSegmenter(frozenset({forced}))
    expected_plain = {run: list(jieba.finalseg.cut(run)) for run in runs}
    jieba.finalseg.Force_Split_Words.add(forced)
    try:
        assert any(forced in run for run in runs)
        for run in runs:
            assert own.cut(run) == list(jieba.finalseg.cut(run)), run
            assert plain.cut(run) == expected_plain[run], run
    finally:
        jieba.finalseg.Force_Split_Words.discard(forced)


def test_get_tokenizer_from_threads():
    """The caches are shared by threads: many threads asking for many specs at once all get theirs."""
    from textkit import tokenize

    from .conftest import run_in_threads

    def ask(seed):
        for n in range(3000):
            spec = TokenizerSpec(kind="char", min_len=1 + (seed + n) % (tokenize._KEPT_TOKENIZERS + 4))
            assert get_tokenizer(spec).spec == spec

    run_in_threads(*(lambda k=k: ask(k) for k in range(4)), switch_interval=1e-6)


def test_tokenizers_share_a_segmenter_and_few_are_kept(tmp_path):
    """Specs that differ only in filters share one jieba segmenter (~60 MB); a process that varies
    its settings or edits its user dictionary keeps a bounded number of each."""
    from textkit import tokenize

    base = get_tokenizer(TokenizerSpec(max_len=97))  # specs no other test uses: made here, now
    assert get_tokenizer(TokenizerSpec(max_len=98, lower=True, mode="search"))._jieba is base._jieba
    user = tmp_path / "user.txt"
    segmenters = []
    for k in range(tokenize._KEPT_SEGMENTERS + 2):
        user.write_text(f"蓝莓芝士蛋糕 {10 + k}\n", encoding="utf-8")
        os.utime(user, ns=(k * 10**9, k * 10**9))  # a new stamp for each edit
        segmenters.append(get_tokenizer(TokenizerSpec(user_dict=str(user)))._jieba)
    assert len({id(s) for s in segmenters}) == len(segmenters)  # each edit read anew
    assert len(tokenize._SEGMENTERS) <= tokenize._KEPT_SEGMENTERS
    # the last edit's segmenter, dropped from the kept ones by others, is still shared while a tokenizer holds it
    held = get_tokenizer(TokenizerSpec(user_dict=str(user)))
    for k in range(tokenize._KEPT_SEGMENTERS + 1):
        other = tmp_path / f"other{k}.txt"
        other.write_text(f"芝士蛋糕 {k + 1}\n", encoding="utf-8")
        get_tokenizer(TokenizerSpec(user_dict=str(other)))
    assert get_tokenizer(TokenizerSpec(user_dict=str(user), min_len=2))._jieba is held._jieba
    for n in range(1, tokenize._KEPT_TOKENIZERS + 5):
        get_tokenizer(TokenizerSpec(min_len=n))
    assert len(tokenize._TOKENIZERS) == tokenize._KEPT_TOKENIZERS
    assert get_tokenizer(TokenizerSpec()).tokens("今天天气不错") == base.tokens("今天天气不错")


def test_a_plain_number_is_a_known_word_in_any_script(tmp_path):
    """discover --new-only drops known words and plain numbers: ASCII digits, which jieba keeps
    whole, and full-width or other decimal digits, which it cuts one by one even when a user
    dictionary holds the number (so it is no word to add); superscripts are no plain number."""
    tok = get_tokenizer(TokenizerSpec())
    for number in ["7", "123", "2024", "１２３", "２０２４", "٣٣"]:
        assert tok.known_word(number), number
    (tmp_path / "numbers.dict").write_text("１２３ 1000\n٣٣ 1000\n", encoding="utf-8")
    with_numbers = get_tokenizer(TokenizerSpec(user_dict=str(tmp_path / "numbers.dict"), keep_punct=True))
    for number in ["１２３", "٣٣"]:
        assert with_numbers.tokens(f"价格{number}元") == ["价格", *number, "元"]
    assert not tok.known_word("²³") and not tok.known_word("５号楼") and tok.known_word("北京")


def test_a_spec_describes_what_its_tokens_depend_on():
    """The label saved with whitening: the kind and the settings that differ from its defaults."""
    assert TokenizerSpec().describe() == "jieba"
    assert TokenizerSpec(kind="char", hmm=False).describe() == "char"  # hmm is jieba's alone
    assert TokenizerSpec(mode="search", stopwords="default", user_dict="/x/y/my.dict").describe() == \
        "jieba (mode=search, user_dict=my.dict, stopwords=default)"
    assert TokenizerSpec(kind="whitespace", min_len=2, lower=True).describe() == "whitespace (min_len=2, lower=True)"
