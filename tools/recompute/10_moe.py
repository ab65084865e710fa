#!/usr/bin/python3
"""Recomputes the fixtures of kata 10 (mixture of experts) independently, in float64.

Reads only the inputs of each fixture (X, the router and expert weights, top_k, alpha,
the capacity factor, the layer shapes), recomputes every other value with its own plain
numpy implementation of the rules of katas/10_moe/README.md, and compares it with the
fixture under the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.
layer.json is computed on the tokens and router of router.json.

Usage: 10_moe.py [FIXTURES_DIR]   (default: ../../fixtures/10_moe from here)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import json
import math
import os
import sys

import numpy as np


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def matrix(values, key):
    m = values[key]
    data = np.array(m["data"], dtype=np.float64)
    if list(data.shape) != list(m["shape"]):
        raise ValueError(f"{key}: data is {list(data.shape)}, shape says {m['shape']}")
    return data


def softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def top_k(probs, k):
    # A stable sort of -p keeps the lower expert index first among equal probabilities.
    order = np.argsort(-probs, axis=1, kind="stable")
    return order[:, :k]


def gates_of(probs, experts):
    picked = np.take_along_axis(probs, experts, axis=1)
    return picked / picked.sum(axis=1, keepdims=True)


def balance(probs, experts, alpha):
    n_tokens, n_experts = probs.shape
    counts = np.bincount(experts.ravel(), minlength=n_experts).astype(np.float64)
    fractions = counts / experts.size
    mean_probs = probs.mean(axis=0)
    loss = alpha * n_experts * float(fractions @ mean_probs)
    return fractions[None, :], mean_probs[None, :], loss


def capacity_of(factor, n_tokens, k, n_experts):
    return math.ceil(factor * n_tokens * k / n_experts)


def dispatch(experts, n_experts, capacity):
    # Choice rank first, token index second; a full expert drops the choice.
    n_tokens, k = experts.shape
    table = -np.ones((n_experts, capacity))
    slots = -np.ones((n_tokens, k))
    mask = np.zeros((n_tokens, n_experts))
    fill = np.zeros(n_experts, dtype=int)
    dropped = 0
    for j in range(k):
        for t in range(n_tokens):
            e = experts[t, j]
            if fill[e] == capacity:
                dropped += 1
                continue
            table[e, fill[e]] = t
            slots[t, j] = fill[e]
            mask[t, e] = 1
            fill[e] += 1
    return table, slots, mask, dropped


def relu_ffn(x, w1, w2):
    return np.maximum(x @ w1, 0.0) @ w2


def recompute_router(values):
    x = matrix(values, "X")
    logits = x @ matrix(values, "W_router")
    probs = softmax_rows(logits)
    k = int(values["top_k"])
    alpha = float(values["alpha"])
    experts = top_k(probs, k)
    experts_k1 = top_k(probs, 1)
    fractions, mean_probs, loss = balance(probs, experts, alpha)
    fractions_k1, _, loss_k1 = balance(probs, experts_k1, alpha)
    return {"logits": logits, "probs": probs, "experts": experts.astype(np.float64),
            "gates": gates_of(probs, experts), "experts_k1": experts_k1.astype(np.float64),
            "gates_k1": gates_of(probs, experts_k1), "fractions": fractions,
            "mean_probs": mean_probs, "loss": loss, "fractions_k1": fractions_k1,
            "loss_k1": loss_k1}


def recompute_layer(values, router):
    x = matrix(router, "X")
    probs = softmax_rows(x @ matrix(router, "W_router"))
    k = int(router["top_k"])
    n_tokens = x.shape[0]
    n_experts = probs.shape[1]
    factor = float(values["capacity_factor"])
    experts = top_k(probs, k)
    gates = gates_of(probs, experts)
    w = [(matrix(values, f"W1_{e}"), matrix(values, f"W2_{e}")) for e in range(n_experts)]
    out = {}
    cap = capacity_of(factor, n_tokens, k, n_experts)
    table, slots, mask, dropped = dispatch(experts, n_experts, cap)
    out.update({"capacity": cap, "expert_tokens": table, "slots": slots, "mask": mask,
                "num_dropped": dropped})
    cap1 = capacity_of(factor, n_tokens, 1, n_experts)
    table1, slots1, _, dropped1 = dispatch(top_k(probs, 1), n_experts, cap1)
    out.update({"capacity_k1": cap1, "expert_tokens_k1": table1, "slots_k1": slots1,
                "num_dropped_k1": dropped1})
    # Each expert's batch and output, then the routed sum token by token.
    for e in range(n_experts):
        tokens = [int(t) for t in table[e] if t >= 0]
        if tokens:
            out[f"batch{e}"] = x[tokens]
            out[f"out{e}"] = relu_ffn(x[tokens], *w[e])
    routed = np.zeros_like(x)
    for t in range(n_tokens):
        for j in range(k):
            if slots[t, j] >= 0:
                routed[t] += gates[t, j] * relu_ffn(x[t:t + 1], *w[experts[t, j]])[0]
    shared = relu_ffn(x, matrix(values, "W1_shared"), matrix(values, "W2_shared"))
    out.update({"routed": routed, "shared": shared, "output": x + shared + routed})
    return out


def recompute_flops(values):
    rows = []
    for d, f, e, k, s, m in matrix(values, "shapes").astype(np.int64):
        per_expert = m * d * f
        router = 2 * d * e
        active = (k + s) * per_expert
        total = (e + s) * per_expert
        rows.append([router, 2 * active, router + 2 * active, 2 * total, total, active])
    return {"counts": np.array(rows, dtype=np.float64)}


INPUTS = {"X", "W_router", "top_k", "alpha", "capacity_factor", "shapes"}


def is_input(key):
    return key in INPUTS or key.startswith("W1_") or key.startswith("W2_")


def compare(name, fixture, actual):
    """Returns a list of mismatch messages; prints one line per value."""
    atol = float(fixture["tolerance"]["atol"])
    rtol = float(fixture["tolerance"]["rtol"])
    values = fixture["values"]
    errors = []
    for key in values:
        if not is_input(key) and key not in actual:
            errors.append(f"{name} {key}: no recomputation for this value")
            print(f"{name} {key} NOT CHECKED")
    for key, got in actual.items():
        if key not in values:
            errors.append(f"{name} {key}: missing from the fixture")
            print(f"{name} {key} MISSING")
            continue
        if isinstance(values[key], dict):
            expected = matrix(values, key)
        else:
            expected = np.array([[float(values[key])]])
        got = np.atleast_2d(np.asarray(got, dtype=np.float64))
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
            errors.append(f"{name} {key}[{i},{j}]: expected {expected[i, j]:.4f}, "
                          f"actual {got[i, j]:.6f} (|diff| {diff[i, j]:.1e} > "
                          f"{atol + rtol * abs(expected[i, j]):.1e})")
    return errors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "fixtures",
                                                          "10_moe")
    errors = []
    paths = {n: os.path.join(fixtures, n) for n in ("router.json", "layer.json", "flops.json")}
    missing = [n for n, p in paths.items() if not os.path.exists(p)]
    for n in missing:
        errors.append(f"{n}: not found in {fixtures}")
    if not missing:
        router = load(paths["router.json"])
        layer = load(paths["layer.json"])
        flops = load(paths["flops.json"])
        errors += compare("router.json", router, recompute_router(router["values"]))
        errors += compare("layer.json", layer, recompute_layer(layer["values"], router["values"]))
        errors += compare("flops.json", flops, recompute_flops(flops["values"]))
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("all fixtures of 10_moe agree with the recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
