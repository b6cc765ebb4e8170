"""Tokenizers: jieba (accurate / full / search modes), single characters, whitespace.

This is the one module that imports jieba. A :class:`TokenizerSpec` is a frozen,
picklable description; :func:`get_tokenizer` turns it into a :class:`Tokenizer`,
cached per process, so a pool worker forked after the parent built it inherits
the loaded dictionary (and user dictionary) instead of loading it again.

Why the tokenizer works clause by clause
----------------------------------------
``jieba.cut(text)`` splits ``text`` with the regular expression ``re_han_default``
into alternating pieces (runs of Han/alphanumeric characters and the rest) and
segments every piece on its own: the tokens of a piece never depend on its
neighbours. So ``cut(text)`` equals the concatenation of ``cut(piece)`` over
those pieces, and ``cut_for_search`` (which only expands each word of ``cut``)
likewise. Corpora repeat clauses ("很好", "物流很快"), so :class:`Tokenizer`
memoises the filtered tokens of each piece; :meth:`Tokenizer.count` counts the
pieces of a whole batch first and segments each distinct piece once. The result
is exactly the count of ``jieba.cut`` over every line; tests compare it with
that naive loop.

Filters (applied to every token, in this order)
-----------------------------------------------
1. ``lower``: ``str.lower()`` (for Latin text);
2. a token with no letter, digit or mark (Unicode categories L*, N*, M*) is
   dropped: whitespace always, punctuation and symbols unless ``keep_punct``
   (then only whitespace-only tokens are dropped); a token holding a control
   character (category Cc: U+0000-U+001F, U+007F-U+009F; a NUL, an escape) is
   always dropped. Such characters separate words: jieba cuts them apart from
   their neighbours and the whitespace tokenizer splits at them, as at spaces;
   so no count file holds them (a TSV or CSV reader would take them for a
   binary file or a broken line);
3. ``min_len`` / ``max_len`` in characters;
4. ``stopwords``: a file of one word per line, or ``"default"`` for the bundled
   Chinese list (stopwords-iso, MIT).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from .errors import TextkitError, UsageError, preview

log = logging.getLogger("textkit")

KINDS = ("jieba", "char", "whitespace")
MODES = ("accurate", "all", "search")
DEFAULT_STOPWORDS = Path(__file__).resolve().parent / "data" / "stopwords-zh.txt"

# Bound on memoised pieces per tokenizer: beyond it the memo is cleared. Output
# never depends on it; only speed and memory do (about 200 bytes per entry).
_MEMO_LIMIT = 50_000

# jieba's own clause pattern (jieba.re_han_default, version 0.42): copied as a
# literal so that importing this module does not import jieba; checked equal to
# jieba's in the tests.
HAN_PIECE = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc


def _split_words(text: str) -> List[str]:
    """The whitespace tokenizer's words: ``text.split()``, control characters splitting as spaces do."""
    if _CONTROL.search(text):
        text = _CONTROL.sub(" ", text)
    return text.split()


@dataclass(frozen=True)
class TokenizerSpec:
    """What tokenizer to build: picklable, hashable, cheap to send to workers."""

    kind: str = "jieba"
    hmm: bool = True
    mode: str = "accurate"
    user_dict: Optional[str] = None
    stopwords: Optional[str] = None
    keep_punct: bool = False
    min_len: int = 1
    max_len: Optional[int] = None
    lower: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UsageError(f"unknown tokenizer {self.kind!r}; choose one of {', '.join(KINDS)}")
        if self.mode not in MODES:
            raise UsageError(f"unknown jieba mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.min_len < 1:
            raise UsageError("min_len (--min-len) must be at least 1")
        if self.max_len is not None and self.max_len < self.min_len:
            raise UsageError("max_len (--max-len) must be at least min_len (--min-len)")

    def describe(self) -> str:
        """A short label of what the tokens depend on, recorded with whitening parameters: the
        kind and every setting that is not the default (files by name), e.g. "jieba" or
        "char (stopwords=default, min_len=2)"."""
        import dataclasses

        default = TokenizerSpec(kind=self.kind)
        changed = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "kind" or value == getattr(default, field.name):
                continue
            if self.kind != "jieba" and field.name in ("hmm", "mode", "user_dict"):
                continue  # settings of jieba alone
            if field.name in ("user_dict", "stopwords") and value != "default":
                value = os.path.basename(str(value))
            changed.append(f"{field.name}={value}")
        return f"{self.kind} ({', '.join(changed)})" if changed else self.kind


def _has_content(token: str) -> bool:
    """True when ``token`` holds a letter, a digit or a combining mark."""
    return any(unicodedata.category(ch)[0] in "LNM" for ch in token)


def read_word_list(path: str) -> List[str]:
    """Words of a one-word-per-line UTF-8 file, compressed or not (blank lines and surrounding
    spaces ignored); read by :func:`textkit.corpus.open_text` like every side file."""
    from .corpus import open_text

    with open_text(path) as fh:
        return [w.strip() for w in fh if w.strip()]


def prefix_cache_path() -> Optional[str]:
    """Where this user's copy of jieba's default prefix dictionary is kept; None if nowhere.

    jieba keeps it in ``/tmp/jieba.cache``, shared by every user: made by one
    user (mode 0600), it can be neither read nor replaced by another, whose
    every run then rebuilds it (about 1 s), prints a traceback and leaves a
    9 MB temporary file behind.  textkit keeps its own, in the first usable
    private folder of ``$XDG_CACHE_HOME/textkit``, ``~/.cache/textkit`` and
    ``<temp dir>/textkit-<uid>`` (a folder that is this user's own, not a link).
    """
    import os
    import stat
    import tempfile

    jieba = _import_jieba()
    name = f"jieba-{getattr(jieba, '__version__', 'unknown')}.prefix-dict.marshal"
    folders = []
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        folders.append(os.path.join(xdg, "textkit"))
    home = os.path.expanduser("~")
    if os.path.isabs(home):
        folders.append(os.path.join(home, ".cache", "textkit"))
    uid = os.getuid() if hasattr(os, "getuid") else None
    folders.append(os.path.join(tempfile.gettempdir(), f"textkit-{uid if uid is not None else 'user'}"))
    for folder in folders:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            info = os.lstat(folder)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and (uid is None or info.st_uid == uid) and os.access(folder, os.W_OK):
            return os.path.join(folder, name)
    return None


def _load_cached_prefix_dict(segmenter, cache: Optional[str]) -> bool:
    """Load the prefix dictionary of jieba's default dictionary from ``cache``; False if unusable.

    The file is a marshal of ``(FREQ, total)``, as jieba's own cache; read at
    once and given to ``marshal.loads`` (jieba's ``marshal.load`` on the open
    file reads in small pieces: 0.7 s against 0.2 s here).
    """
    import marshal

    import jieba

    if cache is None or segmenter.cache_file or segmenter.dictionary != jieba.DEFAULT_DICT:
        return False
    try:
        with open(cache, "rb") as fh:
            freq, total = marshal.loads(fh.read())
    except (OSError, ValueError, EOFError, TypeError):
        return False
    if not isinstance(freq, dict) or not isinstance(total, int) or total <= 0:
        return False
    segmenter.FREQ, segmenter.total = freq, total
    segmenter.initialized = True
    return True


def _build_prefix_dict(segmenter, cache: Optional[str]) -> None:
    """Build the prefix dictionary as jieba's ``initialize`` does, and keep it in ``cache`` when possible.

    Written atomically (:func:`textkit.output.atomic_path`: a reader never sees
    half of it); if that fails (disk full, a read-only folder) the run goes on
    without a cache.
    """
    import marshal

    from .errors import TextkitError
    from .output import atomic_path

    segmenter.FREQ, segmenter.total = segmenter.gen_pfdict(segmenter.get_dict_file())
    segmenter.initialized = True
    if cache is None:
        return
    try:
        with atomic_path(cache) as tmp, open(tmp, "wb") as fh:
            marshal.dump((segmenter.FREQ, segmenter.total), fh)
    except (OSError, TextkitError):
        pass


def _import_jieba():
    """``jieba``, imported without ``pkg_resources``.

    jieba's import tries ``import pkg_resources`` (setuptools' deprecated API,
    ~80 ms here, a deprecation warning with recent setuptools) only to open its
    own data files, and opens them beside its ``__file__`` when that import
    fails.  Hidden for the duration of jieba's import (an entry of None makes
    ``import pkg_resources`` raise ImportError), then visible again to others.
    """
    import sys

    if "jieba" not in sys.modules and "pkg_resources" not in sys.modules:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]
        try:
            import jieba
        finally:
            if "pkg_resources" in sys.modules and sys.modules["pkg_resources"] is None:
                del sys.modules["pkg_resources"]
    import jieba

    return jieba


_JIEBA_GLOBALS = threading.Lock()  # held while jieba's module-level state is swapped


def _load_jieba(spec: TokenizerSpec):
    """A fresh ``jieba.Tokenizer`` with the default dictionary and ``spec.user_dict`` loaded.

    jieba keeps the words a user dictionary gives frequency 0 (always cut into
    characters) in one set for the whole process, ``jieba.finalseg.Force_Split_Words``,
    which every tokenizer and the user's own ``jieba.cut`` read.  Here they go to
    a set of this segmenter's own (``force_split``), and the process-wide set is
    left as it was; jieba's logger level too is only changed while loading.
    """
    jieba = _import_jieba()
    import jieba.finalseg as finalseg

    segmenter = jieba.Tokenizer()
    with _JIEBA_GLOBALS:
        level = jieba.default_logger.level
        jieba.setLogLevel(logging.WARNING)  # keep "Building prefix dict ..." off the user's terminal
        shared, finalseg.Force_Split_Words = finalseg.Force_Split_Words, set()
        try:
            cache = prefix_cache_path()
            if not _load_cached_prefix_dict(segmenter, cache):
                _build_prefix_dict(segmenter, cache)
            if spec.user_dict:
                from .corpus import open_text

                with open_text(spec.user_dict) as fh:  # compressed or not, like every side file
                    misread: List[Tuple[int, str]] = []
                    try:
                        segmenter.load_userdict(_user_dict_lines(fh, jieba.re_userdict, misread))
                    except ValueError as exc:
                        raise TextkitError(f"{spec.user_dict}: not a jieba user dictionary ({exc})") from None
                if misread:
                    line, text = misread[0]
                    more = f" (and {len(misread) - 1:,} more such lines)" if len(misread) > 1 else ""
                    log.warning("%s:%d: %s is not `word [count] [tag]` (one space between fields, "
                                "a whole count, a lower-case tag); skipped%s", fh.name, line, preview(text, 40),
                                more)
        finally:
            segmenter.force_split, finalseg.Force_Split_Words = frozenset(finalseg.Force_Split_Words), shared
            jieba.default_logger.setLevel(level)
    return segmenter


def _user_dict_lines(lines: Iterable[str], pattern, misread: List[Tuple[int, str]]) -> Iterator[str]:
    """The lines of a user dictionary that jieba reads as meant; the others go to ``misread``.

    jieba matches each stripped line with ``pattern`` (``re_userdict``:
    word, then optionally `` count``, then optionally `` tag``) and takes
    whatever does not fit as part of the word: ``word<TAB>3``, ``word -5`` or
    ``word 3 NR`` would add a word holding whitespace, which no text can ever
    be cut into (jieba cuts at whitespace first), and the count would be lost
    without a word.  Such lines are left out and listed as (line number, line).
    """
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped and _SPACE.search(pattern.match(stripped).group(1)):
            misread.append((number, stripped))
            continue
        yield line


_SPACE = re.compile(r"\s")
_SKIP = re.compile("(\r\n|\\s)", re.U)  # jieba.re_skip_default


class _HmmSegmenter:
    """``jieba.finalseg.cut`` (the BMES hidden Markov model for unknown runs), with less overhead.

    Viterbi over the states B(egin), M(iddle), E(nd), S(ingle): the score of
    state y at character t is ``(V[t-1][y0] + log P(y | y0)) + log P(c_t | y)``,
    maximised over y's two possible predecessors y0 (ties: the later letter,
    as jieba's max over ``(score, state)`` tuples picks); the last state is E
    or S. The same additions in the same order as jieba, so the floats and the
    chosen path are bit-identical; the difference is back-pointers instead of
    copied path lists and no tuple building. Tests compare it with
    ``jieba.finalseg.cut``.
    """

    def __init__(self, force_split: frozenset = frozenset()):
        import jieba.finalseg as finalseg

        self.force_split = force_split  # the words cut into characters (jieba: finalseg.Force_Split_Words)
        low = finalseg.MIN_FLOAT
        start, trans, emit = finalseg.start_P, finalseg.trans_P, finalseg.emit_P
        self.start = [(y, start[y], emit[y].get) for y in "BMES"]
        # per state: (state, predecessor 0, predecessor 1, log P(y | p0), log P(y | p1), emission lookup)
        self.steps = [(y, p0, p1, trans[p0].get(y, low), trans[p1].get(y, low), emit[y].get)
                      for y in "BMES" for p0, p1 in [finalseg.PrevStatus[y]]]
        self.low = low
        self.han_split = finalseg.re_han.split
        self.han_match = finalseg.re_han.match
        self.skip_split = finalseg.re_skip.split

    def _states(self, obs: str) -> List[str]:
        low = self.low
        score = {y: p + get(obs[0], low) for y, p, get in self.start}
        back = []
        for c in obs[1:]:
            new, choice = {}, {}
            for y, p0, p1, t0, t1, get in self.steps:
                em = get(c, low)
                s0 = score[p0] + t0 + em
                s1 = score[p1] + t1 + em
                if s0 > s1 or (s0 == s1 and p0 > p1):
                    new[y], choice[y] = s0, p0
                else:
                    new[y], choice[y] = s1, p1
            score = new
            back.append(choice)
        state = "S" if score["S"] >= score["E"] else "E"
        states = [state]
        for choice in reversed(back):
            state = choice[state]
            states.append(state)
        states.reverse()
        return states

    def _han_words(self, block: str, out: List[str]) -> None:
        force_split = self.force_split
        begin = nexti = 0
        words = []
        for i, pos in enumerate(self._states(block)):
            if pos == "B":
                begin = i
            elif pos == "E":
                words.append(block[begin:i + 1])
                nexti = i + 1
            elif pos == "S":
                words.append(block[i])
                nexti = i + 1
        if nexti < len(block):
            words.append(block[nexti:])
        for word in words:
            if word in force_split:
                out.extend(word)
            else:
                out.append(word)

    def cut(self, run: str) -> List[str]:
        """The words of ``list(jieba.finalseg.cut(run))``."""
        out: List[str] = []
        for block in self.han_split(run):
            if self.han_match(block):
                self._han_words(block, out)
            else:
                out.extend(x for x in self.skip_split(block) if x)
        return out


class _DagSegmenter:
    """jieba's accurate mode for one Han/alphanumeric block, computed with less overhead.

    jieba builds a DAG of dictionary words over the block, then picks by dynamic
    programming from the end the route maximising the sum of
    ``log(freq(w) or 1) - log(total)`` over its words (ties: the longer word,
    as Python's max over ``(score, end)`` tuples picks); runs of single
    characters that the dictionary does not hold as a word go to the HMM
    (``jieba.finalseg``) when ``hmm``, and without HMM consecutive single ASCII
    letters/digits are glued. This class does the same arithmetic in the same
    order (so the floats, and the chosen route, are bit-identical) but memoises
    each word's log-probability and fuses DAG and route into one pass. Tests
    compare it with ``jieba.cut`` on text and on generated strings.
    """

    def __init__(self, segmenter, hmm: bool):
        import math

        import jieba
        import jieba.finalseg

        self.freq = segmenter.FREQ
        self.log_total = math.log(segmenter.total)
        self.log = math.log
        self.log_prob: Dict[str, float] = {}
        self.hmm = hmm
        self.hmm_cut = _HmmSegmenter(getattr(segmenter, "force_split", frozenset())).cut
        self.hmm_memo: Dict[str, Tuple[str, ...]] = {}
        self.single_ascii = jieba.re_eng.match

    def _route(self, block: str) -> List[int]:
        """``ends[k]``: index one past the word that the best route takes at position k."""
        freq, log_prob, log, log_total = self.freq, self.log_prob, self.log, self.log_total
        get_freq = freq.get
        n = len(block)
        best = [0.0] * (n + 1)
        ends = [0] * (n + 1)
        for k in range(n - 1, -1, -1):
            top_score = 0.0
            top_end = -1
            i = k
            frag = block[k]
            while i < n:
                f = get_freq(frag)
                if f is None:  # not even a prefix of a dictionary word
                    break
                if f:
                    lp = log_prob.get(frag)
                    if lp is None:
                        lp = log_prob[frag] = log(f) - log_total
                    score = lp + best[i + 1]
                    if top_end < 0 or score >= top_score:
                        top_score, top_end = score, i
                i += 1
                frag = block[k:i + 1]
            if top_end < 0:  # no dictionary word starts here: the character alone
                lp = log_prob.get(block[k])
                if lp is None:
                    lp = log_prob[block[k]] = log(freq.get(block[k]) or 1) - log_total
                top_score, top_end = lp + best[k + 1], k
            best[k] = top_score
            ends[k] = top_end + 1
        return ends

    def cut(self, block: str) -> List[str]:
        ends = self._route(block)
        out: List[str] = []
        n = len(block)
        x = 0
        buf = ""
        if self.hmm:
            while x < n:
                y = ends[x]
                if y - x == 1:
                    buf += block[x]
                else:
                    if buf:
                        self._flush(buf, out)
                        buf = ""
                    out.append(block[x:y])
                x = y
            if buf:
                self._flush(buf, out)
        else:
            single_ascii = self.single_ascii
            while x < n:
                y = ends[x]
                word = block[x:y]
                if y - x == 1 and single_ascii(word):
                    buf += word
                else:
                    if buf:
                        out.append(buf)
                        buf = ""
                    out.append(word)
                x = y
            if buf:
                out.append(buf)
        return out

    def _flush(self, buf: str, out: List[str]) -> None:
        """A run of single characters: HMM for unknown runs, else one token per character.

        The HMM's answer depends on the run alone, so it is memoised.
        """
        if len(buf) == 1:
            out.append(buf)
        elif not self.freq.get(buf):
            words = self.hmm_memo.get(buf)
            if words is None:
                if len(self.hmm_memo) >= _MEMO_LIMIT:
                    self.hmm_memo.clear()
                words = self.hmm_memo[buf] = tuple(self.hmm_cut(buf))
            out.extend(words)
        else:
            out.extend(buf)


def _piece_segmenter(segmenter, spec: TokenizerSpec) -> Callable[[str], Iterable[str]]:
    """A function giving jieba's tokens for one piece of ``HAN_PIECE.split``.

    Han/alphanumeric pieces go to :class:`_DagSegmenter` (accurate and search
    modes) or to jieba's own full cut; any other piece is split as ``jieba.cut``
    does: whitespace runs kept whole, other characters one by one (whole in
    full mode).  Search mode then adds, before each word of the accurate cut,
    its 2- and 3-character parts that the dictionary holds, as
    ``jieba.cut_for_search`` does (:func:`_with_search_parts`).
    """
    cut_all = spec.mode == "all"
    if cut_all:
        block = lambda piece: segmenter.cut(piece, cut_all=True)  # noqa: E731
    else:
        block = _DagSegmenter(segmenter, spec.hmm).cut
    han_match = HAN_PIECE.match

    def segment(piece: str) -> Iterable[str]:
        if han_match(piece):
            return block(piece)
        out: List[str] = []
        for part in _SKIP.split(piece):
            if _SKIP.match(part) or cut_all:
                if part:
                    out.append(part)
            else:
                out.extend(part)
        return out

    if spec.mode == "search":
        return lambda piece: _with_search_parts(segment(piece), segmenter.FREQ)
    return segment


def _with_search_parts(words: Iterable[str], freq: Dict[str, int]) -> List[str]:
    """``jieba.cut_for_search`` from the accurate cut: each word longer than 2 characters comes
    after its 2-character parts with a nonzero frequency, and one longer than 3 after its
    3-character parts too (in order of position, 2-character parts first)."""
    out: List[str] = []
    get = freq.get
    for word in words:
        n = len(word)
        if n > 2:
            out.extend(part for part in (word[i:i + 2] for i in range(n - 1)) if get(part))
        if n > 3:
            out.extend(part for part in (word[i:i + 3] for i in range(n - 2)) if get(part))
        out.append(word)
    return out


class Tokenizer:
    """Turns text into filtered tokens; see the module docstring for the rules."""

    def __init__(self, spec: TokenizerSpec):
        self.spec = spec
        self._jieba = None
        self._memo: Dict[str, Tuple[str, ...]] = {}
        self._token_memo: Dict[str, Optional[str]] = {}
        self._stopwords = frozenset()
        if spec.stopwords:
            source = str(DEFAULT_STOPWORDS) if spec.stopwords == "default" else spec.stopwords
            self._stopwords = frozenset(
                w.lower() if spec.lower else w for w in read_word_list(source)
            )
        if spec.kind == "jieba":
            self._jieba = _segmenter_for(spec)
            self._split: Callable[[str], List[str]] = HAN_PIECE.split
            self._segment = _piece_segmenter(self._jieba, spec)
        elif spec.kind == "char":
            self._split = list
            self._segment = lambda piece: (piece,)
        else:
            self._split = _split_words
            self._segment = lambda piece: (piece,)

    # -- filters -----------------------------------------------------------
    def _filter(self, token: str) -> Optional[str]:
        """The token as counted, or None when a filter drops it (memoised per token)."""
        try:
            return self._token_memo[token]
        except KeyError:
            pass
        spec = self.spec
        out: Optional[str] = token.lower() if spec.lower else token
        if not out.strip() or _CONTROL.search(out):
            out = None
        elif not spec.keep_punct and not _has_content(out):
            out = None
        elif len(out) < spec.min_len or (spec.max_len is not None and len(out) > spec.max_len):
            out = None
        elif out in self._stopwords:
            out = None
        if len(self._token_memo) >= _MEMO_LIMIT:
            self._token_memo.clear()
        self._token_memo[token] = out
        return out

    def _piece_tokens(self, piece: str) -> Tuple[str, ...]:
        try:
            return self._memo[piece]
        except KeyError:
            pass
        kept = []
        for raw in self._segment(piece):
            tok = self._filter(raw)
            if tok is not None:
                kept.append(tok)
        result = tuple(kept)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[piece] = result
        return result

    # -- public ------------------------------------------------------------
    def tokens(self, text: str) -> List[str]:
        """Filtered tokens of ``text`` in order."""
        out: List[str] = []
        for piece in self._split(text):
            if piece:
                out.extend(self._piece_tokens(piece))
        return out

    def count(self, docs: Iterable[str]) -> Counter:
        """Token frequencies over ``docs``: equal to counting :meth:`tokens` of each document."""
        _check_documents(docs, "count")
        pieces: Counter = Counter()
        split = self._split
        for doc in docs:
            pieces.update(split(doc))
        totals: Counter = Counter()
        for piece, times in pieces.items():
            if not piece:
                continue
            toks = self._piece_tokens(piece)
            if times == 1:
                totals.update(toks)
            else:
                for tok in toks:
                    totals[tok] += times
        return totals

    def count_with_df(self, docs: Iterable[str]) -> Tuple[Counter, Counter, int]:
        """(token frequencies, document frequencies, number of documents) over ``docs``."""
        _check_documents(docs, "count_with_df")
        totals: Counter = Counter()
        df: Counter = Counter()
        n = 0
        for doc in docs:
            n += 1
            toks = self.tokens(doc)
            totals.update(toks)
            df.update(set(toks))
        return totals, df, n

    def in_dictionary(self, word: str) -> bool:
        """True when jieba's dictionary (with the user dictionary) holds ``word``."""
        if self._jieba is None:
            self._jieba = _segmenter_for(self.spec)
        return self._jieba.FREQ.get(word, 0) > 0

    def joining_frequency(self, word: str) -> int:
        """The dictionary frequency with which jieba keeps ``word`` whole rather than cut
        into the pieces it cuts it into now: one more than ``total x prod P(piece)``, with
        P(piece) = FREQ(piece) / total (jieba's own ``suggest_freq`` rule); at least the
        word's present frequency.  A user dictionary listing a new word with its corpus
        count (a few dozen against jieba's total of 60 million) would seldom be used."""
        if self._jieba is None:
            self._jieba = _segmenter_for(self.spec)
        seg = self._jieba
        total = float(seg.total)
        p = 1.0
        for piece in seg.cut(word, HMM=False):
            p *= seg.FREQ.get(piece, 1) / total
        return max(int(p * total) + 1, seg.FREQ.get(word, 1))

    def known_word(self, word: str) -> bool:
        """True when ``word`` is no new word for jieba: its dictionary (with the user dictionary)
        holds it, or it is a plain number, decimal digits of any script (jieba keeps a run of ASCII
        digits whole without a dictionary, and cuts full-width or other digits one by one, which
        no user dictionary changes: such a number is no word to add either)."""
        return word.isdecimal() or self.in_dictionary(word)



def as_tokenizer_spec(spec: Optional[TokenizerSpec]) -> TokenizerSpec:
    """``spec``, or ``TokenizerSpec()`` for None; TypeError for anything else (e.g. the string "char")."""
    if spec is None:
        return TokenizerSpec()
    if not isinstance(spec, TokenizerSpec):
        hint = f"TokenizerSpec(kind={spec!r})" if isinstance(spec, str) else "TokenizerSpec()"
        raise TypeError(f"expected a TokenizerSpec, e.g. {hint}, not {type(spec).__name__} {spec!r:.60}")
    return spec


def _check_documents(docs, method: str) -> None:
    """TypeError for one string given where documents are expected (it would be read as characters)."""
    if isinstance(docs, str):
        raise TypeError(f"{method} takes documents (an iterable of strings), not one string: "
                        f"{method}([text])")


def as_token_lists(texts: Iterable[Iterable[str]]) -> list:
    """``texts`` as a list of token lists or tuples (a generator of tokens is taken into a list).

    A text given as a string would be read as its characters: a TypeError says so instead.
    """
    out = []
    for tokens in texts:
        if isinstance(tokens, str):
            raise TypeError("give a list of tokens, not a string (tokenize it first, e.g. "
                            "textkit.get_tokenizer(textkit.TokenizerSpec()).tokens(text))")
        out.append(tokens if isinstance(tokens, (list, tuple)) else list(tokens))
    return out


# Caches, most recently used last: a long-running process that varies its settings or edits
# its user dictionary keeps a few, not every one it ever used (a segmenter is ~60 MB).
_TOKENIZERS: "OrderedDict[tuple, Tokenizer]" = OrderedDict()
_SEGMENTERS: "OrderedDict[Optional[tuple], object]" = OrderedDict()
_LIVE_SEGMENTERS: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()  # any still in use
_KEPT_TOKENIZERS = 16
_KEPT_SEGMENTERS = 3
_CACHES = threading.RLock()  # RLock: a tokenizer made under it asks for its segmenter


def _new_locks_in_child() -> None:
    """A worker forked while another thread held one of these locks would wait on it for ever."""
    global _CACHES, _JIEBA_GLOBALS
    _CACHES, _JIEBA_GLOBALS = threading.RLock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_in_child)


def _cached(cache: OrderedDict, key, make: Callable[[], object], kept: int):
    """``cache[key]``, made by ``make()`` when missing; the least recently used beyond ``kept`` dropped."""
    with _CACHES:
        value = cache.get(key)
        if value is None:
            value = cache[key] = make()
            while len(cache) > kept:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return value


def _segmenter_for(spec: TokenizerSpec):
    """The jieba segmenter of ``spec``: shared by every spec with the same user dictionary (the
    other settings filter its tokens), known by the file's path, size and modification time.

    The 3 used last are kept; one dropped from them but still held by a tokenizer is
    found again, not loaded a second time.
    """
    from .corpus import cache_key

    key = cache_key(spec.user_dict)

    def live_or_new():
        segmenter = _LIVE_SEGMENTERS.get(key)
        if segmenter is None:
            segmenter = _LIVE_SEGMENTERS[key] = _load_jieba(spec)
        return segmenter

    return _cached(_SEGMENTERS, key, live_or_new, _KEPT_SEGMENTERS)


def get_tokenizer(spec: Optional[TokenizerSpec] = None) -> Tokenizer:
    """The process-wide tokenizer for ``spec`` (None: ``TokenizerSpec()``; built on first use, then cached).

    The cache knows the user dictionary and stopword files by their absolute
    path, size and modification time: an edited file gives a new tokenizer.
    It keeps the 16 tokenizers used last, and specs that differ only in their
    filters share one jieba segmenter (see :func:`_segmenter_for`).  Safe to
    call from several threads.
    """
    from .corpus import cache_key

    spec = as_tokenizer_spec(spec)
    stopwords = None if spec.stopwords in (None, "default") else spec.stopwords
    key = (spec, cache_key(spec.user_dict), cache_key(stopwords))
    return _cached(_TOKENIZERS, key, lambda: Tokenizer(spec), _KEPT_TOKENIZERS)
