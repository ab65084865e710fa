#!/usr/bin/python3
"""Recomputes the fixtures of kata 07 (KV cache) independently, in float64.

attend.json: from Q, K, V and the head counts, decodes one token at a time against a growing
cache (rows 0..t of K and V at step t) and recomputes each head's weights and the outputs.
memory.json: bytes per token = 2 * L * Hkv * d * bytes, and that / 1024, from each row's inputs.
token_forwards.json: uncached = sum over i < n of (p + i), counted by a loop; cached = p + n - 1
(also counted by a loop); ratio = uncached / cached.

Compares with the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.
Usage: 07_kv_cache.py [FIXTURES_DIR]   (default: ../../fixtures/07_kv_cache from here)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import json
import math
import os
import sys

import numpy as np


def matrix(values, key):
    m = values[key]
    data = np.array(m["data"], dtype=np.float64)
    if list(data.shape) != list(m["shape"]):
        raise ValueError(f"{key}: data is {list(data.shape)}, shape says {m['shape']}")
    return data


def attend(values):
    q, k, v = matrix(values, "Q"), matrix(values, "K"), matrix(values, "V")
    h_count, kv_count = int(values["num_heads"]), int(values["num_kv_heads"])
    d = q.shape[1] // h_count
    if q.shape[1] % h_count or h_count % kv_count or k.shape[1] != kv_count * d:
        raise ValueError(f"head counts H={h_count} Hkv={kv_count} do not fit the widths")
    steps = q.shape[0]
    weights = [np.zeros((steps, steps)) for _ in range(h_count)]
    out = np.zeros_like(q)
    for t in range(steps):
        cached_k, cached_v = k[: t + 1], v[: t + 1]  # the cache after appending token t
        for h in range(h_count):
            g = h // (h_count // kv_count)
            s = cached_k[:, g * d:(g + 1) * d] @ q[t, h * d:(h + 1) * d] / math.sqrt(d)
            e = np.exp(s - s.max())
            w = e / e.sum()
            weights[h][t, : t + 1] = w
            out[t, h * d:(h + 1) * d] = w @ cached_v[:, g * d:(g + 1) * d]
    result = {f"weights_head{h}": weights[h] for h in range(h_count)}
    result["output"] = out
    return result


def memory(values):
    m = matrix(values, "memory")
    got = m.copy()
    for i, (layers, _, kv_heads, head_dim, size) in enumerate(m[:, :5]):
        got[i, 5] = 2 * layers * kv_heads * head_dim * size
        got[i, 6] = got[i, 5] / 1024
    return {"memory": got}


def token_forwards(values):
    m = matrix(values, "token_forwards")
    got = m.copy()
    for i, (p, n) in enumerate(m[:, :2].astype(int)):
        uncached = 0
        cached = 0
        seq = p
        for _ in range(n):  # without a cache: the whole sequence for every new token
            uncached += seq
            seq += 1
        cached = p + max(n - 1, 0)  # with a cache: the prompt, then every new token but the last
        got[i, 2], got[i, 3], got[i, 4] = uncached, cached, uncached / cached
    return {"token_forwards": got}


RECOMPUTE = {"attend.json": attend, "memory.json": memory,
             "token_forwards.json": token_forwards}
INPUTS = {"Q", "K", "V", "num_heads", "num_kv_heads"}


def check_file(path, recompute):
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as f:
        fixture = json.load(f)
    atol = float(fixture["tolerance"]["atol"])
    rtol = float(fixture["tolerance"]["rtol"])
    values = fixture["values"]
    actual = recompute(values)
    errors = []
    for key in values:
        if key not in INPUTS and key not in actual:
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
            continue
        diff = np.abs(got - expected)
        bad = np.argwhere(diff > atol + rtol * np.abs(expected))
        if len(bad) == 0:
            print(f"{name} {key} ok (max |diff| {diff.max():.1e})")
            continue
        print(f"{name} {key} MISMATCH at {len(bad)} entries")
        for i, j in bad:
            errors.append(f"{name} {key}[{i},{j}]: expected {expected[i, j]:.4f}, "
                          f"actual {got[i, j]:.6f} (|diff| {diff[i, j]:.1e} > "
                          f"{atol + rtol * abs(expected[i, j]):.1e})")
    return errors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "fixtures",
                                                          "07_kv_cache")
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
    print("all fixtures of 07_kv_cache agree with the recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
