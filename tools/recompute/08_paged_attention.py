#!/usr/bin/python3
"""Recomputes the fixtures of kata 08 (paged attention) independently.

trace.json: replays the operation trace (ops) on a model of its own, written for clarity:
  - the free list is a Python list whose head is the next block handed out; a released
    block goes back to the head;
  - a full block is identified for prefix sharing by the whole tuple of token ids from
    the start of the sequence to the end of that block (what the chained hash of the C++
    solution stands for), so no hash is involved;
and compares lengths, tables, refcounts, free_lists and stats after every operation.
attention.json: replays the small pool of Step 8 the same way, gathers the keys and values
through the block table, and recomputes scores, weights and output with numpy in float64.
accounting.json: recomputes the reservations of a paged and a contiguous cache.

Usage: 08_paged_attention.py [FIXTURES_DIR]   (default: ../../fixtures/08_paged_attention)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import json
import math
import os
import sys

import numpy as np

NEW, APPEND, FORK, WRITE, FREE = 1, 2, 3, 4, 5


class Pool:
    """Block ids, reference counts, per-block slot contents, sequences."""

    def __init__(self, num_blocks, block_size):
        self.block_size = block_size
        self.free = list(range(num_blocks))  # head = next to allocate
        self.refs = [0] * num_blocks
        self.slots = [[None] * block_size for _ in range(num_blocks)]  # (token, k, v)
        self.fill = [0] * num_blocks
        self.seqs = {}  # id -> {"table": [...], "length": n}
        self.next_id = 0
        self.index = {}  # prefix tuple -> block
        self.key_of = {}  # block -> prefix tuple it is registered under

    # --- blocks
    def allocate(self):
        if not self.free:
            raise RuntimeError("out of blocks")
        b = self.free.pop(0)
        self.refs[b] = 1
        self.fill[b] = 0
        return b

    def unregister(self, b):
        key = self.key_of.pop(b, None)
        if key is not None and self.index.get(key) == b:
            del self.index[key]

    def release(self, b):
        assert self.refs[b] > 0, f"double free of block {b}"
        self.refs[b] -= 1
        if self.refs[b] == 0:
            self.unregister(b)
            self.free.insert(0, b)

    def writable(self, seq, logical):
        """Copy-on-write: the block to write logical block `logical` of seq into."""
        table = self.seqs[seq]["table"]
        b = table[logical]
        if self.refs[b] == 1:
            self.unregister(b)
            return b
        copy = self.allocate()
        self.slots[copy] = list(self.slots[b])
        self.fill[copy] = self.fill[b]
        table[logical] = copy
        self.release(b)
        return copy

    # --- sequences
    def tokens(self, seq):
        s = self.seqs[seq]
        return [self.slots[s["table"][j // self.block_size]][j % self.block_size][0]
                for j in range(s["length"])]

    def new(self):
        sid = self.next_id
        self.next_id += 1
        self.seqs[sid] = {"table": [], "length": 0}
        return sid

    def append(self, seq, token, key=None, value=None):
        s = self.seqs[seq]
        slot = s["length"] % self.block_size
        if slot == 0:
            b = self.allocate()
            s["table"].append(b)
        else:
            b = self.writable(seq, len(s["table"]) - 1)
        self.slots[b][slot] = (token, key, value)
        self.fill[b] = slot + 1
        s["length"] += 1
        if slot + 1 == self.block_size:
            prefix = tuple(self.tokens(seq))  # every token up to the end of this block
            other = self.index.get(prefix)
            if other is None:
                self.index[prefix] = b
                self.key_of[b] = prefix
            else:
                self.refs[other] += 1
                s["table"][-1] = other
                self.release(b)

    def fork(self, parent):
        sid = self.next_id
        self.next_id += 1
        p = self.seqs[parent]
        for b in p["table"]:
            self.refs[b] += 1
        self.seqs[sid] = {"table": list(p["table"]), "length": p["length"]}
        return sid

    def write(self, seq, position, token):
        b = self.writable(seq, position // self.block_size)
        self.slots[b][position % self.block_size] = (token, None, None)

    def free_seq(self, seq):
        for b in reversed(self.seqs[seq]["table"]):
            self.release(b)
        del self.seqs[seq]

    def stats(self):
        used = [b for b in range(len(self.refs)) if self.refs[b] > 0]
        filled = sum(self.fill[b] for b in used)
        slots = len(used) * self.block_size
        logical = sum(s["length"] for s in self.seqs.values())
        return [len(used), filled, slots - filled, logical]


def matrix(values, key):
    m = values[key]
    data = np.array(m["data"], dtype=np.float64)
    if list(data.shape) != list(m["shape"]):
        raise ValueError(f"{key}: data is {list(data.shape)}, shape says {m['shape']}")
    return data


def padded(row, width):
    if len(row) > width:
        raise ValueError(f"{row} does not fit in {width} columns")
    return list(row) + [-1] * (width - len(row))


def trace(values):
    pool = Pool(int(values["num_blocks"]), int(values["block_size"]))
    ops = matrix(values, "ops").astype(int)
    num_seqs = matrix(values, "lengths").shape[1]
    per_seq = matrix(values, "tables").shape[1] // num_seqs
    rows = {k: [] for k in ("lengths", "tables", "refcounts", "free_lists", "stats")}
    for k, (op, seq, arg, *toks) in enumerate(ops):
        toks = [t for t in toks if t >= 0]
        if op == NEW:
            got = pool.new()
            if got != seq:
                raise ValueError(f"ops[{k}]: the new sequence gets id {got}, not {seq}")
            for t in toks:
                pool.append(seq, t)
        elif op == APPEND:
            for t in toks:
                pool.append(seq, t)
        elif op == FORK:
            got = pool.fork(seq)
            if got != arg:
                raise ValueError(f"ops[{k}]: the fork gets id {got}, not {arg}")
        elif op == WRITE:
            pool.write(seq, arg, toks[0])
        elif op == FREE:
            pool.free_seq(seq)
        else:
            raise ValueError(f"ops[{k}]: unknown op {op}")
        rows["lengths"].append([pool.seqs[s]["length"] if s in pool.seqs else -1
                                for s in range(num_seqs)])
        tables = []
        for s in range(num_seqs):
            tables += padded(pool.seqs[s]["table"] if s in pool.seqs else [], per_seq)
        rows["tables"].append(tables)
        rows["refcounts"].append(list(pool.refs))
        rows["free_lists"].append(padded(pool.free, len(pool.refs)))
        rows["stats"].append(pool.stats())
    return {k: np.array(v, dtype=np.float64) for k, v in rows.items()}


def attention(values):
    pool = Pool(int(values["num_blocks"]), int(values["block_size"]))
    seqs = []
    for name in ("seq0", "seq1"):
        seqs.append((matrix(values, f"{name}_tokens")[0].astype(int),
                     matrix(values, f"{name}_keys"), matrix(values, f"{name}_values")))
    # Sequence 0 gets its two tokens, sequence 1 its first two, 0 is freed, 1 gets its third.
    s0, s1 = pool.new(), pool.new()
    for j in range(2):
        pool.append(s0, seqs[0][0][j], seqs[0][1][j], seqs[0][2][j])
    for j in range(2):
        pool.append(s1, seqs[1][0][j], seqs[1][1][j], seqs[1][2][j])
    pool.free_seq(s0)
    pool.append(s1, seqs[1][0][2], seqs[1][1][2], seqs[1][2][2])
    table = pool.seqs[s1]["table"]
    length = pool.seqs[s1]["length"]
    b = pool.block_size
    k = np.array([pool.slots[table[j // b]][j % b][1] for j in range(length)])
    v = np.array([pool.slots[table[j // b]][j % b][2] for j in range(length)])
    q = matrix(values, "query")
    scores = q @ k.T
    scaled = scores / math.sqrt(q.shape[1])
    e = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    weights = e / e.sum(axis=1, keepdims=True)
    return {"block_table": np.array([table], dtype=np.float64), "scores": scores,
            "scaled": scaled, "weights": weights, "output": weights @ v}


def accounting(values):
    block = int(values["block_size"])
    max_len = int(values["max_length"])
    lengths = [int(x) for x in matrix(values, "per_sequence")[:, 0]]
    rows, totals = [], []
    for n in lengths:
        blocks = -(-n // block)  # ceil
        rows.append([n, blocks, blocks * block - n, max_len - n])
    for reserved in (sum(-(-n // block) * block for n in lengths), len(lengths) * max_len):
        used = sum(lengths)
        totals.append([reserved, used, reserved - used, (reserved - used) / reserved])
    return {"per_sequence": np.array(rows, dtype=np.float64),
            "totals": np.array(totals, dtype=np.float64)}


RECOMPUTE = {
    "trace.json": (trace, {"num_blocks", "block_size", "ops"}),
    "attention.json": (attention, {"num_blocks", "block_size", "seq0_tokens", "seq0_keys",
                                   "seq0_values", "seq1_tokens", "seq1_keys", "seq1_values",
                                   "query"}),
    "accounting.json": (accounting, {"block_size", "max_length"}),
}


def check_file(path, recompute, inputs):
    """Returns a list of mismatch messages; prints one line per value."""
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        fixture = json.load(f)
    atol = float(fixture["tolerance"]["atol"])
    rtol = float(fixture["tolerance"]["rtol"])
    values = fixture["values"]
    try:
        actual = recompute(values)
    except (ValueError, KeyError, AssertionError, RuntimeError) as e:
        print(f"{name} REPLAY FAILED")
        return [f"{name}: {e}"]
    errors = []
    for key in values:
        if key not in inputs and key not in actual:
            errors.append(f"{name} {key}: no recomputation for this value")
            print(f"{name} {key} NOT CHECKED")
    for key, got in actual.items():
        if key not in values:
            errors.append(f"{name} {key}: missing from the fixture")
            print(f"{name} {key} MISSING")
            continue
        expected = matrix(values, key)
        if expected.shape != got.shape:
            errors.append(f"{name} {key}: shape {list(expected.shape)} in the fixture, "
                          f"recomputed {list(got.shape)}")
            print(f"{name} {key} WRONG SHAPE")
            continue
        diff = np.abs(got - expected)
        bad = np.argwhere(diff > atol + rtol * np.abs(expected))
        if len(bad) == 0:
            print(f"{name} {key} ok (max |diff| {diff.max():.1e})")
            continue
        print(f"{name} {key} MISMATCH at {len(bad)} entries")
        for i, j in bad:
            errors.append(f"{name} {key}[{i},{j}]: expected {expected[i, j]:g}, "
                          f"actual {got[i, j]:.6g} (|diff| {diff[i, j]:.1e} > "
                          f"{atol + rtol * abs(expected[i, j]):.1e})")
    return errors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "fixtures",
                                                          "08_paged_attention")
    errors = []
    for name, (recompute, inputs) in RECOMPUTE.items():
        path = os.path.join(fixtures, name)
        if not os.path.exists(path):
            errors.append(f"{name}: not found in {fixtures}")
            continue
        errors.extend(check_file(path, recompute, inputs))
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("all fixtures of 08_paged_attention agree with the recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
