#!/usr/bin/python3
"""Recomputes the fixtures of kata 06 (the transformer) independently, in float64.

Reads only the inputs of each fixture (token ids, weights, configuration numbers, the exact
input matrices), recomputes every other value with its own plain numpy implementation of
the tiny model, the position schemes, the activations and the parameter counts, and compares
it with the fixture under the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.

Usage: 06_transformer.py [FIXTURES_DIR]   (default: ../../fixtures/06_transformer from here)
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


# --- the pieces, written for numpy -----------------------------------------------------

def sinusoidal(num_positions, width):
    # PE(p, 2i) = sin(p / 10000^(2i/D)), PE(p, 2i+1) = cos(p / 10000^(2i/D)).
    p = np.arange(num_positions, dtype=np.float64)[:, None]
    freq = 10000.0 ** (-np.arange(0, width, 2, dtype=np.float64) / width)
    out = np.empty((num_positions, width))
    out[:, 0::2] = np.sin(p * freq)
    out[:, 1::2] = np.cos(p * freq)
    return out


def rope(x, head_dim, base=10000.0):
    # Adjacent pairs of every head, row t at position t, turned by t * base^(-2i/d).
    t = np.arange(x.shape[0], dtype=np.float64)[:, None]
    theta = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    angle = np.tile(t * theta, (1, x.shape[1] // head_dim))
    a, b = x[:, 0::2], x[:, 1::2]
    out = np.empty_like(x)
    out[:, 0::2] = a * np.cos(angle) - b * np.sin(angle)
    out[:, 1::2] = a * np.sin(angle) + b * np.cos(angle)
    return out


def layer_norm(x, gamma, beta, eps):
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)  # divides by D
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def attention(x, memory, w, heads, causal):
    # Returns q, k, v, the per-head weights, the concatenation and the output.
    q = x @ w["Wq"] + w["bias"][0]
    k = memory @ w["Wk"] + w["bias"][1]
    v = memory @ w["Wv"] + w["bias"][2]
    d = x.shape[1] // heads
    weights, outs = [], []
    for h in range(heads):
        cols = slice(h * d, (h + 1) * d)
        s = q[:, cols] @ k[:, cols].T / math.sqrt(d)
        if causal:
            s = np.where(np.tri(s.shape[0], s.shape[1], dtype=bool), s, -np.inf)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        weights.append(p)
        outs.append(p @ v[:, cols])
    concat = np.hstack(outs)
    return q, k, v, weights, concat, concat @ w["Wo"] + w["bias"][3]


# --- one function per fixture file -----------------------------------------------------

def tiny_model(values):
    eps = float(values["norm_eps"])
    heads = int(values["num_heads"])
    embed = matrix(values, "embed")
    ids = matrix(values, "ids").astype(int)[0]
    w = {name: matrix(values, name) for name in ("Wq", "Wk", "Wv", "Wo")}
    w["bias"] = matrix(values, "attn_bias")
    n1, n2, nf = (matrix(values, k) for k in ("norm1", "norm2", "final_norm"))
    w_up, b_up = matrix(values, "W_up"), matrix(values, "b_up")
    w_down, b_down = matrix(values, "W_down"), matrix(values, "b_down")

    def ffn(x):
        up = x @ w_up + b_up
        hidden = gelu(up)
        return up, hidden, hidden @ w_down + b_down

    out = {}
    out["tokens"] = embed[ids]
    out["positions"] = sinusoidal(len(ids), embed.shape[1])
    x0 = out["tokens"] + out["positions"]
    out["x0"] = x0
    # Decoder-only, pre-norm.
    h1 = layer_norm(x0, n1[0], n1[1], eps)
    out["norm1_out"] = h1
    q, k, v, weights, concat, attn = attention(h1, h1, w, heads, causal=True)
    out.update({"q": q, "k": k, "v": v, "concat": concat, "attn_out": attn})
    for h, p in enumerate(weights):
        out[f"head{h}_weights"] = p
    x1 = x0 + attn
    out["x1"] = x1
    h2 = layer_norm(x1, n2[0], n2[1], eps)
    out["norm2_out"] = h2
    out["ffn_up"], out["ffn_hidden"], out["ffn_out"] = ffn(h2)
    x2 = x1 + out["ffn_out"]
    out["x2"] = x2
    out["final_out"] = layer_norm(x2, nf[0], nf[1], eps)
    out["logits"] = out["final_out"] @ embed.T
    # The same block as a post-norm encoder block.
    _, _, _, weights, _, attn = attention(x0, x0, w, heads, causal=False)
    for h, p in enumerate(weights):
        out[f"enc_head{h}_weights"] = p
    out["enc_attn_out"] = attn
    y = layer_norm(x0 + attn, n1[0], n1[1], eps)
    out["enc_x1"] = y
    _, _, f = ffn(y)
    out["enc_ffn_out"] = f
    out["enc_out"] = layer_norm(y + f, n2[0], n2[1], eps)
    # Cross-attention with the same weights.
    _, _, _, weights, _, cross = attention(matrix(values, "cross_x"),
                                           matrix(values, "cross_memory"), w, heads, False)
    for h, p in enumerate(weights):
        out[f"cross_head{h}_weights"] = p
    out["cross_out"] = cross
    return out


def positions(values):
    q = rope(matrix(values, "rope_q_in"), 4)
    k = rope(matrix(values, "rope_k_in"), 4)
    return {"sinusoidal": sinusoidal(4, 6), "rope_q": q, "rope_k": k, "rope_scores": q @ k.T}


def activations(values):
    x = matrix(values, "act_x")
    sx = matrix(values, "swiglu_x")
    gate = sx @ matrix(values, "swiglu_W_gate")
    up = sx @ matrix(values, "swiglu_W_up")
    hidden = silu(gate) * up
    return {"relu": np.maximum(x, 0.0), "gelu": gelu(x), "silu": silu(x),
            "swiglu_gate": gate, "swiglu_up": up, "swiglu_hidden": hidden,
            "swiglu_out": hidden @ matrix(values, "swiglu_W_down")}


def counts(vocab, context, width, ffn_width, layers, learned_positions):
    # A decoder-only, pre-norm, LayerNorm, GELU model with biases and tied embeddings:
    # [embedding, positions, attention, ffn, norms, lm_head, total].
    embedding = vocab * width
    position_table = context * width if learned_positions else 0
    attention_params = layers * 4 * (width * width + width)
    ffn_params = layers * (width * ffn_width + ffn_width + ffn_width * width + width)
    norms = layers * 2 * (2 * width) + 2 * width
    parts = [embedding, position_table, attention_params, ffn_params, norms, 0]
    return np.array(parts + [sum(parts)], dtype=np.float64).reshape(-1, 1)


def parameter_counts(values):
    return {"tiny_counts": counts(6, 8, 4, 8, 1, False),
            "gpt2_counts": counts(50257, 1024, 768, 3072, 12, True)}


RECOMPUTE = {
    "tiny_model.json": tiny_model,
    "positions.json": positions,
    "activations.json": activations,
    "parameter_counts.json": parameter_counts,
}
INPUTS = {
    "vocab_size", "model_dim", "num_heads", "ffn_dim", "max_seq_len", "norm_eps", "ids", "embed",
    "Wq", "Wk", "Wv", "Wo", "attn_bias", "W_up", "b_up", "W_down", "b_down", "norm1", "norm2",
    "final_norm", "cross_x", "cross_memory", "rope_q_in", "rope_k_in", "act_x", "swiglu_x",
    "swiglu_W_gate", "swiglu_W_up", "swiglu_W_down",
}


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "06_transformer", RECOMPUTE, INPUTS))
