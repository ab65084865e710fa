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
import math
import sys

import numpy as np

import fixture_check


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


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "07_kv_cache", RECOMPUTE, INPUTS))
