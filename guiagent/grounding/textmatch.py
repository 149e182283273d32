"""Match the text an instruction names against what OCR read on the screen.

Pure functions over :class:`TextLine` values (a box of text as an OCR engine read it, in image
pixels). Everything is case-insensitive and tolerant of what OCR gets wrong on screens:

* dropped or extra spaces: both sides are compared with spaces removed, while the places
  where words started and ended are remembered, so "Save As" still lands on word boundaries;
* look-alike glyphs: ``0``/``o``, ``1``/``l``/``I``/``|``, ``rn``/``m``, ``vv``/``w`` are
  folded to one letter on both sides before comparing;
* text split over several boxes: boxes on one row are joined in reading order, and a row
  that wraps onto the next one is tried as one run as well.

Two modes. **Exact** (the user quoted the text): the matched words must be exactly the
query's words, ignoring case and punctuation around them ("Save" finds "Save" and "Save:",
not "Saved"; long words may carry one OCR misread per 8 letters). **Fuzzy**: the best
approximate substring, scored by edit distance, with a penalty for cutting words in half.

The search is one semi-global edit-distance alignment of the query against every row at
once, vectorised with numpy, so a whole 4K screen of text takes a few milliseconds.

A match's ``point`` is the centre of the matched *words*, not of the OCR box they sit in:
OCR engines often return whole lines, and the middle of "Save As... Cancel" is not a
place to click for "Cancel". Where an engine reports where each character is
(:attr:`TextLine.char_spans`) those positions are used; otherwise characters are assumed to
be spread evenly over the box.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from guiagent.geometry import Box, Point

__all__ = [
    "TextLine",
    "TextMatch",
    "char_spans",
    "find_text",
    "fold",
    "query_text",
    "similarity",
    "word_boxes",
]

# Score adjustments; the order they produce is what matters: a box holding exactly the
# words > the words inside a longer box > a cut word > a misread.
# Words inside a longer text: more than the tie band (0.02) below the box that reads exactly
# them, so "Save" is the Save button and not "Save" in "Save As..." ...
_INSIDE_LONGER_PENALTY = 0.03
_CONTEXT_PENALTY = 0.01  # ... then per other word in the boxes the match touches ...
_CONTEXT_MAX = 5  # ... counting at most this many
_SOFT_BOUNDARY_PENALTY = 0.03  # match starts/ends at inner punctuation or a camelCase hump
_CUT_WORD_PENALTY = 0.1  # (fuzzy only) match starts/ends inside a word
_EXACT_LETTERS_PER_EDIT = 8  # exact mode forgives one OCR misread per this many letters

_PUNCT_MAP = {
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "–": "-", "—": "-", "−": "-", "‐": "-", "‑": "-",
}
# Look-alike glyphs, applied after casefolding; each maps to one representative.
_CONFUSABLE = {"0": "o", "1": "l", "i": "l", "|": "l", "ı": "l"}
_PAIRS = {("r", "n"): "m", ("v", "v"): "w"}

_ROLE_WORDS = (
    "button", "menu", "menu item", "tab", "link", "field", "text field", "text box", "textbox",
    "checkbox", "check box", "radio button", "icon", "label", "option",
)
# Verbs that are never part of a label are dropped outright; the ones that could be
# ("Select All", "Find Next") only when an article follows.
_LEADING = re.compile(
    r"^(?:please\s+)?(?:(?:double[- ]click|right[- ]click|click|tap|press|hit)(?:\s+on)?\s+"
    r"|(?:select|choose|find|locate)\s+(?=(?:the|a|an)\s))?(?:(?:the|a|an)\s+)?",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"\s+(?:" + "|".join(re.escape(w) for w in sorted(_ROLE_WORDS, key=len, reverse=True))
    + r")$",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]+)[\"“”«»]")


@dataclass(frozen=True, slots=True)
class TextLine:
    """A piece of text an OCR engine read, with its box in image pixels.

    ``char_spans`` gives, when the engine knows, the horizontal extent ``(x0, x1)`` of each
    character of ``text`` (same length as ``text``); without it characters are spread evenly
    over ``box``. ``score`` is the engine's confidence in [0, 1].
    """

    text: str
    box: Box
    score: float = 1.0
    char_spans: tuple[tuple[float, float], ...] | None = None

    def __post_init__(self) -> None:
        if self.char_spans is not None and len(self.char_spans) != len(self.text):
            raise ValueError(
                f"char_spans has {len(self.char_spans)} entries for {len(self.text)} characters"
            )

    def translated(self, dx: float, dy: float) -> TextLine:
        """The same reading moved by ``(dx, dy)`` (e.g. from crop to frame pixels)."""
        box = Box(self.box.left + dx, self.box.top + dy, self.box.width, self.box.height)
        spans = None
        if self.char_spans is not None:
            spans = tuple((a + dx, b + dx) for a, b in self.char_spans)
        return TextLine(self.text, box, self.score, spans)


@dataclass(frozen=True, slots=True)
class TextMatch:
    """Where the query was found: the matched words' ``box`` and their centre ``point``.

    ``text`` is what OCR read for the matched words, ``context`` the whole text of the boxes
    they sit in, ``lines`` the indices (into the ``lines`` given to :func:`find_text`) of
    those boxes, ``ocr_score`` the lowest engine confidence among them.
    """

    text: str
    box: Box
    point: Point
    score: float
    lines: tuple[int, ...]
    context: str
    ocr_score: float = 1.0


# -- normalisation --------------------------------------------------------------------------


def _nfkc(ch: str) -> str:
    ch = _PUNCT_MAP.get(ch, ch)
    return unicodedata.normalize("NFKC", ch).casefold() if not ch.isascii() else ch.lower()


def _fold_indexed(text: str) -> list[tuple[str, int]]:
    """Fold ``text`` for comparison: ``(char, index into text)``; whitespace becomes ``" "``."""
    out: list[tuple[str, int]] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            out.append((" ", i))
            continue
        for c in _nfkc(ch):
            out.append((" " if c.isspace() else _CONFUSABLE.get(c, c), i))
    folded: list[tuple[str, int]] = []
    j = 0
    while j < len(out):
        if j + 1 < len(out) and (out[j][0], out[j + 1][0]) in _PAIRS:
            folded.append((_PAIRS[(out[j][0], out[j + 1][0])], out[j][1]))
            j += 2
        else:
            folded.append(out[j])
            j += 1
    return folded


def fold(text: str) -> str:
    """The comparison form of ``text``: lower case, look-alikes merged, spaces removed."""
    return "".join(c for c, _ in _fold_indexed(text) if c != " ")


def _is_punct(ch: str) -> bool:
    return not ch.isalnum() and not ch.isspace()


def _strip_punct(text: str) -> str:
    stripped = text.strip()
    core = stripped.strip("".join({c for c in stripped if _is_punct(c)}))
    return core.strip() or stripped  # a query that is all punctuation ("...") stays as is


def query_text(text: str, *, description: bool = False) -> tuple[str, bool]:
    """The words to look for in ``text`` and whether they must match exactly.

    For a description, a quoted part is taken as exact text (``the "Save" button`` ->
    ``Save``, exact); otherwise leading verbs/articles and a trailing role word are dropped
    (``click the Save button`` -> ``Save``).
    """
    text = " ".join(text.split())
    if not description:
        return _strip_punct(text), False
    quoted = _QUOTED.search(text)
    if quoted and quoted.group(1).strip():
        return _strip_punct(quoted.group(1)), True
    core = _LEADING.sub("", text, count=1)
    trimmed = _TRAILING.sub("", core)
    return _strip_punct(trimmed or core), False


def similarity(a: str, b: str) -> float:
    """1 - edit distance / longer length, on folded text (case, spaces and look-alikes ignored)."""
    fa, fb = fold(a), fold(b)
    if not fa and not fb:
        return 1.0
    if not fa or not fb:
        return 0.0
    prev = list(range(len(fb) + 1))
    for i, ca in enumerate(fa, 1):
        cur = [i]
        for j, cb in enumerate(fb, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(fa), len(fb))


# -- geometry of characters and words -------------------------------------------------------


def char_spans(line: TextLine) -> list[tuple[float, float]]:
    """Horizontal extent of every character of ``line.text`` (image pixels)."""
    if line.char_spans is not None:
        return list(line.char_spans)
    n = max(len(line.text), 1)
    step = line.box.width / n
    return [(line.box.left + i * step, line.box.left + (i + 1) * step) for i in range(len(line.text))]


def word_boxes(line: TextLine) -> list[tuple[str, Box]]:
    """The space-separated words of ``line`` with their (estimated) boxes."""
    spans = char_spans(line)
    out = []
    for m in re.finditer(r"\S+", line.text):
        x0, x1 = spans[m.start()][0], spans[m.end() - 1][1]
        out.append((m.group(), Box(x0, line.box.top, max(x1 - x0, 0.0), line.box.height)))
    return out


# -- rows: boxes joined in reading order ----------------------------------------------------


def _rows(lines: Sequence[TextLine]) -> list[list[int]]:
    """Group line indices into rows (same baseline band, close horizontally), left to right."""
    # Bands: boxes overlapping vertically by half the smaller height, swept top to bottom.
    order = sorted(range(len(lines)), key=lambda i: lines[i].box.center.y)
    bands: list[list[int]] = []
    active: list[tuple[float, float, float, int]] = []  # top, bottom, height, band number
    for i in order:
        b = lines[i].box
        cy = b.top + b.height / 2
        active = [a for a in active if a[1] >= cy - b.height]
        chosen = -1
        for top, bottom, height, number in active:
            overlap = min(b.bottom, bottom) - max(b.top, top)
            if overlap >= 0.5 * min(b.height, height) > 0:
                chosen = number
                break
        if chosen < 0:
            chosen = len(bands)
            bands.append([])
            active.append((b.top, b.bottom, b.height, chosen))
        bands[chosen].append(i)
    # Rows: a band split wherever boxes are far apart horizontally (table columns).
    rows: list[list[int]] = []
    for band in bands:
        band.sort(key=lambda i: lines[i].box.left)
        row = [band[0]]
        right = lines[band[0]].box.right
        for i in band[1:]:
            b = lines[i].box
            h = max(b.height, lines[row[-1]].box.height)
            if b.left - right <= 2.0 * h:
                row.append(i)
            else:
                rows.append(row)
                row = [i]
            right = max(right, b.right)
        rows.append(row)
    return rows


def _continuations(lines: Sequence[TextLine], rows: list[list[int]]) -> list[list[int]]:
    """Pairs (last box of a row, first box of the row just below) that read as a wrapped line."""
    heads = sorted(rows, key=lambda r: lines[r[0]].box.top)
    tops = [lines[r[0]].box.top for r in heads]
    out = []
    for row in heads:
        a = lines[row[-1]].box
        first = lines[row[0]].box
        h = a.height
        k = bisect.bisect_left(tops, a.bottom)
        while k < len(heads) and tops[k] <= a.bottom + 1.4 * h:
            b = lines[heads[k][0]].box
            if (b.top - a.bottom <= max(a.height, b.height) and abs(b.left - first.left) <= 2.0 * h
                    and 0.7 <= b.height / max(a.height, 1e-6) <= 1.4 and heads[k] is not row):
                out.append([row[-1], heads[k][0]])
                break
            k += 1
    return out


class _FoldedChar(NamedTuple):
    code: int
    line: int
    pos: int  # index into lines[line].text
    word: int  # running word number within the segment
    punct: bool
    hump: bool  # a soft boundary starts here (after inner punctuation or a camelCase hump)


@functools.lru_cache(maxsize=65536)
def _line_chars(text: str) -> tuple[tuple[tuple[int, int, int, bool, bool], ...], frozenset[int]]:
    """Folded characters of one OCR text: ``(code, index, word, punct, hump)`` and the code set.

    Cached by text: the same screen is searched many times while OCR reads more of it.
    """
    chars = []
    word = 0
    prev_orig = ""
    prev_punct = True
    for c, idx in _fold_indexed(text):
        if c == " ":
            word += 1
            prev_orig, prev_punct = " ", True
            continue
        orig = text[idx]
        punct = _is_punct(c)
        hump = (prev_punct and not punct) or (prev_orig.islower() and orig.isupper())
        chars.append((ord(c), idx, word, punct, hump))
        prev_orig, prev_punct = orig, punct
    return tuple(chars), frozenset(c[0] for c in chars)


def _segment_chars(lines: Sequence[TextLine], segment: list[int]) -> list[_FoldedChar]:
    chars: list[_FoldedChar] = []
    base = 0
    for li in segment:
        folded, _codes = _line_chars(lines[li].text)
        base += 1  # every box starts a new word
        chars.extend(_FoldedChar(code, li, idx, base + word, punct, hump)
                     for code, idx, word, punct, hump in folded)
        if folded:
            base += folded[-1][2]
    return chars


# -- the alignment --------------------------------------------------------------------------

_KEY = 1 << 24  # start positions are packed under this in the running-min keys


def _align(query: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Semi-global edit distance of ``query`` against every row of ``codes`` (-1 = padding).

    Returns ``cost[r, p]`` and ``start[r, p]``: the fewest edits turning some substring
    ``codes[r, start:p]`` into the whole query, for every end position ``p`` (0..L).
    """
    rows, length = codes.shape
    pos = np.arange(length + 1, dtype=np.int64)
    cost = np.zeros((rows, length + 1), dtype=np.int64)
    start = np.broadcast_to(pos, (rows, length + 1)).copy()
    for q in query:
        up = cost + 1
        diag = cost[:, :-1] + (codes != q)
        best = up.copy()
        best_start = start.copy()
        take = diag < up[:, 1:]
        best[:, 1:] = np.where(take, diag, up[:, 1:])
        best_start[:, 1:] = np.where(take, start[:, :-1], start[:, 1:])
        # Insertions (skipping text characters) as a running minimum along each row:
        # cost[p] = min_k best[k] + (p - k); the start rides along in the low bits.
        key = (best - pos) * _KEY + best_start
        key = np.minimum.accumulate(key, axis=1)
        cost = key // _KEY + pos
        start = key % _KEY
    return cost, start


def _boundary(chars: list[_FoldedChar], s: int, e: int) -> tuple[int, int]:
    """How cleanly a match ``chars[s..e]`` (inclusive) sits in its words, at each end.

    0: at a word boundary (at most punctuation between it and the space or box edge);
    1: at a soft boundary (inner punctuation, a camelCase hump); 2: inside a word.
    """
    word_s, word_e = chars[s].word, chars[e].word
    before = [c for c in chars[max(0, s - 64) : s] if c.word == word_s]
    after = [c for c in chars[e + 1 : e + 65] if c.word == word_e]
    start = 0 if all(c.punct for c in before) else 1 if chars[s].hump else 2
    end = 0 if all(c.punct for c in after) else 1 if (after[0].hump or after[0].punct) else 2
    return start, end


def find_text(
    query: str,
    lines: Sequence[TextLine],
    *,
    exact: bool = False,
    limit: int = 5,
    min_score: float = 0.6,
) -> list[TextMatch]:
    """Where ``query`` appears among ``lines``, best first (at most ``limit``).

    ``exact``: the matched words must be the query's words (case, surrounding punctuation,
    spaces and look-alike glyphs aside; one misread per 8 letters forgiven). Otherwise the
    best approximate matches scoring at least ``min_score``.
    """
    q = fold(_strip_punct(query))
    if not q or not lines or limit <= 0:
        return []
    m = len(q)
    max_edits = m // _EXACT_LETTERS_PER_EDIT if exact else math.floor((1 - min_score) * m + 1e-9)

    rows = _rows(lines)
    segments = rows + _continuations(lines, rows)
    qset = {ord(c) for c in q}
    # Cheap prefilter: a row must hold enough of the query's letters to be within max_edits.
    keep_segments = []
    for seg in segments:
        infos = [_line_chars(lines[li].text) for li in seg]
        if sum(len(info[0]) for info in infos) < m - max_edits:
            continue
        present = set().union(*(info[1] for info in infos))
        if len(qset & present) >= len(qset) - max_edits:
            keep_segments.append(seg)
    if not keep_segments:
        return []
    seg_chars = [_segment_chars(lines, seg) for seg in keep_segments]
    width = max(len(chars) for chars in seg_chars)
    codes = np.full((len(seg_chars), width), -1, dtype=np.int64)
    for r, chars in enumerate(seg_chars):
        codes[r, : len(chars)] = [c.code for c in chars]
    cost, start = _align(np.array([ord(c) for c in q], dtype=np.int64), codes)

    found: dict[tuple[tuple[int, int], ...], TextMatch] = {}
    for r, chars in enumerate(seg_chars):
        n = len(chars)
        row_cost = cost[r, 1 : n + 1]
        taken: list[tuple[int, int]] = []
        ends = np.nonzero(row_cost <= max_edits)[0]
        # Best first; among equals prefer spans as long as the query.
        row_start = start[r]
        costs = cost[r]

        def rank(p: int, costs: np.ndarray = costs, row_start: np.ndarray = row_start
                 ) -> tuple[int, int]:
            return int(costs[p + 1]), abs((p + 1 - int(row_start[p + 1])) - m)

        ranked = sorted(ends.tolist(), key=rank)
        for p in ranked:
            s, e = int(start[r, p + 1]), p
            if s > e or any(not (e < a or s > b) for a, b in taken):
                continue
            match = _score(q, lines, chars, s, e, int(cost[r, p + 1]), exact)
            if match is None or match.score < (0.0 if exact else min_score):
                continue
            taken.append((s, e))
            key = tuple((c.line, c.pos) for c in (chars[s], chars[e]))
            if key not in found or found[key].score < match.score:
                found[key] = match
    ranked_matches = sorted(
        found.values(), key=lambda t: (-t.score, -t.ocr_score, t.box.top, t.box.left)
    )
    # Detectors can report one piece of text twice (a button's label and the whole button);
    # keep the better of two matches on the same spot.
    kept: list[TextMatch] = []
    for match in ranked_matches:
        if not any(_same_spot(match.box, other.box) for other in kept):
            kept.append(match)
            if len(kept) == limit:
                break
    return kept


def _same_spot(a: Box, b: Box) -> bool:
    inter = a.intersection(b)
    if inter is None:
        return a.contains(b.center) or b.contains(a.center)
    return inter.area >= 0.5 * min(a.area, b.area)


def _score(
    q: str,
    lines: Sequence[TextLine],
    chars: list[_FoldedChar],
    s: int,
    e: int,
    edits: int,
    exact: bool,
) -> TextMatch | None:
    start_b, end_b = _boundary(chars, s, e)
    if exact and (start_b == 2 or end_b == 2):
        return None
    score = 1.0 - edits / len(q)
    for b in (start_b, end_b):
        score -= (0.0, _SOFT_BOUNDARY_PENALTY, _CUT_WORD_PENALTY)[b]

    # Original character ranges per touched line. A cut word is widened to the whole word so
    # the point lands on the word meant, unless the "word" is mostly other text that OCR
    # glued on by dropping spaces.
    ranges: dict[int, list[int]] = {}
    for c in chars[s : e + 1]:
        lo_hi = ranges.setdefault(c.line, [c.pos, c.pos])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], c.pos), max(lo_hi[1], c.pos)
    first, last = chars[s].line, chars[e].line
    if start_b == 2 or end_b == 2:
        lo, hi = ranges[first][0], ranges[last][1]
        new_lo = _word_start(lines[first].text, lo) if start_b == 2 else lo
        new_hi = _word_end(lines[last].text, hi) if end_b == 2 else hi
        matched = (hi - lo + 1) if first == last else len(q)
        if (lo - new_lo) + (new_hi - hi) <= matched + 2:
            ranges[first][0], ranges[last][1] = new_lo, new_hi

    words_in_match = len({c.word for c in chars[s : e + 1] if not c.punct})
    words_in_boxes = sum(len(lines[li].text.split()) for li in ranges)
    extra = max(words_in_boxes - words_in_match, 0)
    if extra:
        score -= _INSIDE_LONGER_PENALTY + _CONTEXT_PENALTY * min(extra, _CONTEXT_MAX)

    parts: list[tuple[int, Box]] = []
    texts = []
    for li, (lo, hi) in ranges.items():
        line = lines[li]
        spans = char_spans(line)
        x0, x1 = spans[lo][0], spans[hi][1]
        parts.append((hi - lo + 1, Box(x0, line.box.top, max(x1 - x0, 0.0), line.box.height)))
        texts.append(line.text[lo : hi + 1])
    box = parts[0][1]
    for _, part in parts[1:]:
        box = box.union(part)
    # On a match that wraps onto the next row, click the part holding most of it.
    point = max(parts, key=lambda p: p[0])[1].center
    return TextMatch(
        text=" ".join(texts),
        box=box,
        point=point,
        score=max(0.0, min(1.0, score)),
        lines=tuple(ranges),
        context=" ".join(lines[li].text for li in ranges),
        ocr_score=min(lines[li].score for li in ranges),
    )


def _word_start(text: str, i: int) -> int:
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


def _word_end(text: str, i: int) -> int:
    while i + 1 < len(text) and not text[i + 1].isspace():
        i += 1
    return i
