#!/usr/bin/python3
"""Recomputes the fixtures of kata 09 (flash attention) independently, in float64.

The README derives the online softmax by its recurrence (fold one block at a time,
rescale when the max grows). This script never runs that recurrence: it computes each
state in closed form from the prefix of the stream it summarizes, which is what the
recurrence must equal:
    m = max(s[:n]),  l = sum(exp(s[:n] - m)),  o~ = sum(exp(s[:n] - m) * v[:n]).
The backward pass is recomputed with the explicit softmax Jacobian diag(p) - p p^T
instead of the rowsum(dO * O) shortcut of the README.

Reads only the inputs of each fixture (s, V, block_size, Q, K, V, dO), recomputes every
other value and compares it with the fixture under the fixture's tolerance:
|actual - expected| <= atol + rtol*|expected|.

Usage: 09_flash_attention.py [FIXTURES_DIR]   (default: ../../fixtures/09_flash_attention)
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


def state(scores, vals):
    """Closed-form (m, l, o~) of a stream prefix; scores may hold -inf (masked)."""
    m = scores.max()
    w = np.exp(scores - m)
    return np.concatenate([[m, w.sum()], w @ vals])


def softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def logsumexp_rows(z):
    m = z.max(axis=1, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def online_softmax(values):
    s = matrix(values, "s")[0]
    v = matrix(values, "V")
    block = int(values["block_size"])
    blocks = math.ceil(len(s) / block)
    trace, outputs = [], []
    prev_max = -np.inf
    for b in range(1, blocks + 1):
        n = min(b * block, len(s))
        st = state(s[:n], v[:n])
        # alpha = exp(m_before - m_after); 0 before the first block.
        alpha = 0.0 if prev_max == -np.inf else math.exp(prev_max - st[0])
        prev_max = st[0]
        trace.append(np.concatenate([[alpha], st]))
        outputs.append(st[2:] / st[1])
    weights = softmax_rows(s[None, :])
    return {
        "trace": np.array(trace),
        "outputs": np.array(outputs),
        "weights": weights,
        "state_a": state(s[:block], v[:block])[None, :],
        "state_b": state(s[block:], v[block:])[None, :],
        # merging the two states must give the state of the whole stream
        "merged": state(s, v)[None, :],
    }


def four_tokens(values):
    q = matrix(values, "Q")
    k = matrix(values, "K")
    v = matrix(values, "V")
    d_out = matrix(values, "dO")
    block = int(values["block_size"])
    t, n = q.shape[0], k.shape[0]
    scale = 1.0 / math.sqrt(q.shape[1])
    s = q @ k.T * scale
    visible = np.array([[j <= i + (n - t) for j in range(n)] for i in range(t)])
    s_causal = np.where(visible, s, -np.inf)
    out = {"S": s}

    def after(scores, rows, key_block):
        end = min((key_block + 1) * block, n)
        return np.array([state(scores[i, :end], v[:end]) for i in rows])

    def tiles(causal):
        computed = masked = 0
        for i0 in range(0, t, block):
            for j0 in range(0, n, block):
                tile = visible[i0:i0 + block, j0:j0 + block] if causal else \
                    np.ones((min(block, t - i0), min(block, n - j0)), bool)
                if tile.any():
                    computed += 1
                    masked += int(not tile.all())
        return np.array([[computed, masked]], dtype=np.float64)

    out["after_block1"] = after(s, range(t), 0)
    out["after_block2"] = after(s, range(t), 1)
    p = softmax_rows(s)
    o = p @ v
    out["output"] = o
    out["lse"] = logsumexp_rows(s)
    out["tiles"] = tiles(False)
    out["causal_after_block1"] = after(s_causal, range(t), 0)
    # rows 0 and 1 see no key of block 2: only rows 2 and 3 have a state after it
    out["causal_after_block2"] = after(s_causal, [i for i in range(t) if visible[i, block:].any()], 1)
    out["causal_output"] = softmax_rows(s_causal) @ v
    out["causal_lse"] = logsumexp_rows(s_causal)
    out["causal_tiles"] = tiles(True)

    # Backward of sum(dO * out): every step by the chain rule, the softmax by its Jacobian.
    out["P"] = np.exp(s - out["lse"])
    d_p = d_out @ v.T
    out["dP"] = d_p
    out["D"] = (d_out * o).sum(axis=1, keepdims=True)
    d_s = np.zeros_like(s)
    for i in range(t):
        jac = np.diag(p[i]) - np.outer(p[i], p[i])
        d_s[i] = jac @ d_p[i]
    out["dS"] = d_s
    out["dV"] = p.T @ d_out
    out["dQ"] = d_s @ k * scale
    out["dK"] = d_s.T @ q * scale
    return out


RECOMPUTE = {
    "online_softmax.json": online_softmax,
    "four_tokens.json": four_tokens,
}
INPUTS = {"s", "V", "block_size", "Q", "K", "dO"}


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "09_flash_attention", RECOMPUTE, INPUTS))
