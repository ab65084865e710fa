#!/usr/bin/python3
"""Recomputes the fixtures of kata 12 (LoRA) independently, in float64.

Reads only the inputs of each fixture (shapes and ranks, x, W0, A, B, alpha, the upstream
gradient dh, the regression task), recomputes every other value with its own plain numpy
implementation, and compares it with the fixture under the fixture's tolerance:
|actual - expected| <= atol + rtol*|expected|.

Usage: 12_lora.py [FIXTURES_DIR]   (default: ../../fixtures/12_lora from here)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import math
import sys

import numpy as np

import fixture_check


matrix = fixture_check.fixture_value


def number(values, key):
    return float(values[key])


def as_scalar(x):
    return np.array([[float(x)]])


# --- LoRA from its formulas ----------------------------------------------------------

def lora_params(d_in, d_out, r):
    return r * (d_in + d_out)


def memory(frozen, trainable):
    weights, grads, adam = 4 * (frozen + trainable), 4 * trainable, 8 * trainable
    return weights, grads, adam, weights + grads + adam


def forward(x, w0, a, b, s):
    base = x @ w0
    down = x @ a
    up = down @ b
    return base, down, up, base + s * up


def backward(x, w0, a, b, s, dh):
    u = x @ a
    db = s * u.T @ dh
    du = s * dh @ b.T
    return x.T @ du, db, dh @ w0.T + du @ a.T


def target_shape(d, h, hkv, hd, f, target):
    return {"q": (d, h * hd), "k": (d, hkv * hd), "v": (d, hkv * hd), "o": (h * hd, d),
            "gate": (d, f), "up": (d, f), "down": (f, d)}[target]


# --- one function per fixture file ---------------------------------------------------

def counts(values):
    out = {}
    d_in, d_out, r = (int(values[k]) for k in ("small_d_in", "small_d_out", "small_rank"))
    out["small_full"] = as_scalar(d_in * d_out)
    out["small_lora"] = as_scalar(lora_params(d_in, d_out, r))
    out["small_break_even_rank"] = as_scalar(d_in * d_out / (d_in + d_out))
    d_in, d_out, r = (int(values[k]) for k in ("real_d_in", "real_d_out", "real_rank"))
    full, lora = d_in * d_out, lora_params(d_in, d_out, r)
    out["real_full"] = as_scalar(full)
    out["real_lora"] = as_scalar(lora)
    out["real_fraction"] = as_scalar(lora / full)
    out["full_memory"] = np.array([memory(0, full)], dtype=np.float64)
    out["lora_memory"] = np.array([memory(full, lora)], dtype=np.float64)
    return out


def forward_fixture(values):
    x, w0, a, b = (matrix(values, k) for k in ("x", "W0", "A", "B"))
    alpha, r = number(values, "alpha"), a.shape[1]
    if int(values["rank"]) != r:
        raise ValueError(f"rank = {values['rank']} but A has {r} columns")
    s = alpha / r
    base, down, up, out = forward(x, w0, a, b, s)
    dh = matrix(values, "dh")
    da, db, dx = backward(x, w0, a, b, s, dh)
    da0, db0, _ = backward(x, w0, a, np.zeros_like(b), s, dh)
    merged = w0 + s * a @ b
    return {"scale": as_scalar(s), "rslora_scale": as_scalar(alpha / math.sqrt(r)),
            "base": base, "down": down, "up": up, "output": out,
            "dA": da, "dB": db, "dx": dx, "dA_at_init": da0, "dB_at_init": db0,
            "merged_W": merged, "merged_output": x @ merged}


def training(values):
    x, y, w0 = (matrix(values, k) for k in ("x", "y", "W0"))
    a, b = matrix(values, "A0"), matrix(values, "B0")
    lr, s = number(values, "lr"), number(values, "alpha") / matrix(values, "A0").shape[1]
    steps = int(values["steps"])
    losses, out = [], {}
    for t in range(steps + 1):
        _, _, _, h = forward(x, w0, a, b, s)
        r = h - y
        losses.append(0.5 * np.mean(r * r))
        if t == steps:
            break
        dh = r / r.size
        da, db, _ = backward(x, w0, a, b, s, dh)
        a, b = a - lr * da, b - lr * db
        out[f"A{t + 1}"], out[f"B{t + 1}"] = a, b
    out["losses"] = np.array([losses])
    return out


def scales(values):
    alpha = number(values, "alpha")
    ranks = matrix(values, "ranks")[0]
    lora = alpha / ranks
    rs = alpha / np.sqrt(ranks)
    return {"lora_scale": np.array([lora]), "rslora_scale": np.array([rs]),
            "lora_update_size": np.array([lora * np.sqrt(ranks)]),
            "rslora_update_size": np.array([rs * np.sqrt(ranks)])}


def placement(values):
    d, h, hkv, hd, f, r = (int(values[k]) for k in
                           ("d_model", "num_heads", "num_kv_heads", "head_dim", "d_ff", "rank"))
    layers = int(values["layers"])
    names = ["q", "k", "v", "o", "gate", "up", "down"]
    per = [lora_params(*target_shape(d, h, hkv, hd, f, t), r) for t in names]
    qv = per[0] + per[2]
    every = sum(per)
    base = sum(a * b for a, b in (target_shape(d, h, hkv, hd, f, t) for t in names))
    return {"per_target": np.array([per], dtype=np.float64), "qv_per_block": as_scalar(qv),
            "all_per_block": as_scalar(every), "qv_model": as_scalar(qv * layers),
            "all_model": as_scalar(every * layers), "base_per_block": as_scalar(base)}


RECOMPUTE = {
    "counts.json": counts,
    "forward.json": forward_fixture,
    "training.json": training,
    "scales.json": scales,
    "placement.json": placement,
}
INPUTS = {
    "small_d_in", "small_d_out", "small_rank", "real_d_in", "real_d_out", "real_rank", "x",
    "W0", "A", "B", "alpha", "rank", "dh", "y", "A0", "B0", "lr", "steps", "ranks",
    "d_model", "num_heads", "num_kv_heads", "head_dim", "d_ff", "layers",
}


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "12_lora", RECOMPUTE, INPUTS))
