#!/usr/bin/python3
"""Recomputes the fixtures of kata 02 (attention) independently, in float64.

Reads only the inputs of each fixture (X, the weight matrices, d_k, the head counts),
recomputes every other value with its own plain numpy implementation, and compares it
with the fixture under the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.

Usage: 02_attention.py [FIXTURES_DIR]   (default: ../../fixtures/02_attention from here)
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


def softmax_rows(z):
    # softmax(z) = softmax(z - max): subtract each row's max before exp.
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def attention(q, k, v):
    # softmax(q·kᵀ / √d) · v, d = width of q; also returns the intermediates.
    scores = q @ k.T
    scaled = scores / math.sqrt(q.shape[1])
    weights = softmax_rows(scaled)
    return scores, scaled, weights, weights @ v


def single_head(values):
    x = matrix(values, "X")
    q = x @ matrix(values, "Wq")
    k = x @ matrix(values, "Wk")
    v = x @ matrix(values, "Wv")
    if int(values["d_k"]) != q.shape[1]:
        raise ValueError(f"d_k = {values['d_k']} but Wq has {q.shape[1]} columns")
    scores, scaled, weights, output = attention(q, k, v)
    return {"Q": q, "K": k, "V": v, "scores": scores, "scaled": scaled,
            "weights": weights, "output": output}


def multi_head(values):
    # Grouped-query attention; Hkv = H is multi-head attention, Hkv = 1 multi-query.
    x = matrix(values, "X")
    h_count = int(values["num_heads"])
    kv_count = int(values["num_kv_heads"])
    width = x.shape[1]
    if width % h_count or h_count % kv_count:
        raise ValueError(f"bad head counts H={h_count}, Hkv={kv_count}, D={width}")
    d = width // h_count
    group = h_count // kv_count
    q = x @ matrix(values, "Wq")
    k = x @ matrix(values, "Wk")
    v = x @ matrix(values, "Wv")
    out = {"Q": q, "K": k, "V": v}
    heads = []
    for h in range(h_count):
        g = h // group  # query head h reads kv head g
        cols_q = slice(h * d, (h + 1) * d)
        cols_kv = slice(g * d, (g + 1) * d)
        _, _, weights, head_out = attention(q[:, cols_q], k[:, cols_kv], v[:, cols_kv])
        out[f"head{h}_weights"] = weights
        out[f"head{h}_output"] = head_out
        heads.append(head_out)
    out["concat"] = np.hstack(heads)
    out["output"] = out["concat"] @ matrix(values, "Wo")
    return out


RECOMPUTE = {
    "single_head.json": single_head,
    "multi_head.json": multi_head,
    "grouped_query.json": multi_head,
}
INPUTS = {"X", "Wq", "Wk", "Wv", "Wo", "d_k", "num_heads", "num_kv_heads"}


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "02_attention", RECOMPUTE, INPUTS))
