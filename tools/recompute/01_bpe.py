#!/usr/bin/python3
"""Recomputes the fixtures of kata 01 (byte-pair encoding) independently, in plain Python.

Retrains the README's two worked examples from their inputs with a naive trainer of its
own (recount every pair every round, ties to the smallest (left, right)), re-encodes with
tiktoken's rule, re-splits the pretokenization examples with the GPT-2 pattern written
against Python's own Unicode database, and compares every value with the fixture exactly.

Usage: 01_bpe.py [FIXTURES_DIR]   (default: ../../fixtures/01_bpe from here)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import json
import os
import sys
import unicodedata

# The inputs of the examples. The tests hold the same strings.
WORDS = [("low", 5), ("lower", 2), ("newest", 6), ("widest", 3)]
WORDS_MERGES = 10
WORDS_ENCODED = ["lowest", "newer", "wider"]
AAAB_TEXT = "aaabdaaabac"
AAAB_MERGES = 3
AAAB_ENCODED = ["aabaaab"]
PRINTABLE_BYTES = [0, 9, 10, 32, 33, 65, 126, 127, 160, 161, 172, 173, 174, 255]
PRETOKENIZE_TEXTS = {
    "english": "I'm sure you'll see:  42 cats,\nthey've  won!!! \n\n",
    "unicode": "Ελλάδα 東京 café ½ x² €5\u00a0ok ٣٤ e\u0301 🙂!",
}
SPECIAL = "<|endoftext|>"
SPECIAL_TEXTS = {
    "middle": ("aaabd<|endoftext|>aaabac", True),
    "adjacent": ("<|endoftext|><|endoftext|>", True),
    "ordinary": ("a<|endoftext|>", False),
}


# --- training, by the book ---------------------------------------------------------

def count_pairs(words):
    counts = {}
    for tokens, count in words:
        for pair in zip(tokens, tokens[1:]):
            counts[pair] = counts.get(pair, 0) + count
    return counts


def merge_pair(tokens, pair, new_id):
    out, i = [], 0
    while i < len(tokens):
        if i + 1 < len(tokens) and (tokens[i], tokens[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(tokens[i])
            i += 1
    return out


def train(words, num_merges):
    """Returns (merges, pair counts before each merge, words after each merge)."""
    state = [(list(w.encode("utf-8")), c) for w, c in words]
    merges, before, after = [], [], []
    for r in range(num_merges):
        counts = count_pairs(state)
        if not counts:
            break
        before.append(counts)
        best = min(counts, key=lambda p: (-counts[p], p))
        new_id = 256 + r
        merges.append((best[0], best[1], new_id, counts[best]))
        state = [(merge_pair(t, best, new_id), c) for t, c in state]
        after.append([t for t, _ in state])
    return merges, before, after


def vocabulary(merges):
    vocab = {b: bytes([b]) for b in range(256)}
    for left, right, new_id, _ in merges:
        vocab[new_id] = vocab[left] + vocab[right]
    return vocab


# --- encoding, tiktoken's rule -------------------------------------------------------

def encode_piece(piece, ranks):
    parts = [bytes([b]) for b in piece]
    while len(parts) > 1:
        best = None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return [ranks[p] for p in parts]


# --- pretokenization: the GPT-2 pattern over Unicode categories -----------------------

WHITE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F,
                                         0x205F, 0x3000} | set(range(0x2000, 0x200B))


def char_class(ch):
    if ord(ch) in WHITE_SPACE:
        return "S"
    cat = unicodedata.category(ch)
    return cat[0] if cat[0] in "LN" else "O"


def pretokenize(text):
    """Pieces as (start, end) byte offsets."""
    chars = list(text)
    cls = [char_class(c) for c in chars]
    offsets = [0]
    for c in chars:
        offsets.append(offsets[-1] + len(c.encode("utf-8")))
    pieces, i, n = [], 0, len(chars)
    while i < n:
        length = 0
        for c in ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d"):
            if text[i:i + len(c)] == c:
                length = len(c)
                break
        for x in "LNO":
            if length:
                break
            if chars[i] == " " and i + 1 < n and cls[i + 1] == x:
                j = i + 1
            elif cls[i] == x:
                j = i
            else:
                continue
            while j < n and cls[j] == x:
                j += 1
            length = j - i
        if not length:  # \s+(?!\S), then \s+
            run = 0
            while i + run < n and cls[i + run] == "S":
                run += 1
            for k in range(run, 0, -1):
                if i + k == n or cls[i + k] == "S":
                    length = k
                    break
            length = length or run
        pieces.append((offsets[i], offsets[i + length]))
        i += length
    return pieces


def encode_text(text, ranks, specials):
    """tiktoken's encode: specials split the text; a piece that is a token is that token."""
    ids, start, pos = [], 0, 0
    segments = []
    while pos < len(text):
        hit = max((s for s in specials if text.startswith(s, pos)), key=len, default=None)
        if hit is None:
            pos += 1
            continue
        segments.append((text[start:pos], None))
        segments.append((None, specials[hit]))
        pos += len(hit)
        start = pos
    segments.append((text[start:], None))
    for ordinary, special_id in segments:
        if ordinary is None:
            ids.append(special_id)
            continue
        raw = ordinary.encode("utf-8")
        for a, b in pretokenize(ordinary):
            piece = raw[a:b]
            ids.extend([ranks[piece]] if piece in ranks else encode_piece(piece, ranks))
    return ids


# --- the fixture values ----------------------------------------------------------------

def pair_rows(counts):
    return [[a, b, c] for (a, b), c in sorted(counts.items())]


def words_values():
    merges, before, after = train(WORDS, WORDS_MERGES)
    out = {"word_counts": [[c] for _, c in WORDS], "merges": [list(m) for m in merges]}
    for k, counts in enumerate(before, start=1):
        out[f"pairs_{k}"] = pair_rows(counts)
    for (word, _), tokens in zip(WORDS, after[-1]):
        out[f"{word}_tokens"] = [tokens]
    ranks = {v: k for k, v in vocabulary(merges).items()}
    for word in WORDS_ENCODED:
        out[f"encoded_{word}"] = [encode_piece(word.encode(), ranks)]
    return out


def aaab_values():
    merges, before, after = train([(AAAB_TEXT, 1)], AAAB_MERGES)
    out = {"text": [list(AAAB_TEXT.encode())], "merges": [list(m) for m in merges]}
    for k, counts in enumerate(before, start=1):
        out[f"pairs_{k}"] = pair_rows(counts)
        out[f"after_{k}"] = [after[k - 1][0]]
    ranks = {v: k for k, v in vocabulary(merges).items()}
    for text in AAAB_ENCODED:
        out[f"encoded_{text}"] = [encode_piece(text.encode(), ranks)]
    return out


def printable_code_point(b):
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    others = [x for x in range(256) if x not in printable]
    return b if b in printable else 256 + others.index(b)


def byte_level_values():
    order = sorted(range(256), key=printable_code_point)  # GPT-2's single-byte ranks
    return {
        "printable": [[b, printable_code_point(b)] for b in PRINTABLE_BYTES],
        "gpt2_rank": [[b, order.index(b)] for b in PRINTABLE_BYTES],
    }


def pretokenize_values():
    return {key: [list(p) for p in pretokenize(text)] for key, text in PRETOKENIZE_TEXTS.items()}


def specials_values():
    merges, _, _ = train([(AAAB_TEXT, 1)], AAAB_MERGES)
    ranks = {v: k for k, v in vocabulary(merges).items()}
    specials = {SPECIAL: 256 + len(merges)}
    out = {}
    for key, (text, allowed) in SPECIAL_TEXTS.items():
        out[key] = [encode_text(text, ranks, specials if allowed else {})]
    return out


def tiktoken_values():
    # The rank file of the test: byte b has rank 255 - b, then "aa", "ab", "aaab".
    ranks = {bytes([b]): 255 - b for b in range(256)}
    ranks.update({b"aa": 256, b"ab": 257, b"aaab": 258})
    return {"reversed_encoded": [encode_text(AAAB_TEXT, ranks, {})]}


RECOMPUTE = {
    "words.json": words_values,
    "aaabdaaabac.json": aaab_values,
    "byte_level.json": byte_level_values,
    "pretokenize.json": pretokenize_values,
    "specials.json": specials_values,
    "tiktoken.json": tiktoken_values,
}


def as_matrix(value):
    if not isinstance(value, dict) or "data" not in value or "shape" not in value:
        return None
    data = value["data"]
    if [len(data), len(data[0]) if data else 0] != list(value["shape"]):
        return None
    return data


def check_file(path, recompute):
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        fixture = json.load(f)
    tol = fixture["tolerance"]
    if tol["atol"] != 0 or tol["rtol"] != 0:
        return [f"{name}: tolerance must be exact (atol = rtol = 0), got {tol}"]
    values = fixture["values"]
    expected_all = recompute()
    errors = []
    for key in values:
        if key not in expected_all:
            errors.append(f"{name} {key}: no recomputation for this value")
    for key, want in expected_all.items():
        if key not in values:
            errors.append(f"{name} {key}: missing from the fixture")
            continue
        got = as_matrix(values[key])
        if got is None:
            errors.append(f"{name} {key}: not a {{shape, data}} matrix with consistent shape")
            continue
        if len(got) != len(want) or any(len(g) != len(w) for g, w in zip(got, want)):
            errors.append(f"{name} {key}: shape [{len(got)}, {len(got[0]) if got else 0}] in "
                          f"the fixture, recomputed [{len(want)}, {len(want[0]) if want else 0}]")
            continue
        bad = [(i, j) for i, row in enumerate(want) for j, w in enumerate(row) if got[i][j] != w]
        if not bad:
            print(f"{name} {key} ok")
            continue
        print(f"{name} {key} MISMATCH at {len(bad)} entries")
        for i, j in bad:
            errors.append(f"{name} {key}[{i},{j}]: fixture {got[i][j]}, recomputed {want[i][j]}")
    return errors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "fixtures", "01_bpe")
    if len(argv) > 2 and argv[2] == "--print":  # the recomputed values, for writing fixtures
        print(json.dumps({name: f() for name, f in RECOMPUTE.items()}))
        return 0
    errors = []
    for name, recompute in RECOMPUTE.items():
        path = os.path.join(fixtures, name)
        if not os.path.exists(path):
            errors.append(f"{name}: not found in {fixtures}")
            continue
        errors.extend(check_file(path, recompute))
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("all fixtures of 01_bpe agree with the recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
