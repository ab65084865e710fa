#!/usr/bin/python3
"""Recomputes the fixtures of kata 04 (causal mask) independently, in float64.

Reads only the inputs of each fixture (Q, K, V; for the padded batch q1, k1, v1, the
lengths and the padding side, and sequence 0's Q, K, V from causal.json), recomputes
every other value with its own numpy implementation, and compares it with the fixture
under the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.

Conventions of the fixtures (JSON has no -inf):
  - a mask is a 0/1 matrix, 1 where query i may attend to key j;
  - "scores" are the scaled scores q·kᵀ/√d before masking; the masked scores (-inf where
    the mask is 0) are not stored, only shown in a code block of the README;
  - a fully masked row has weights all 0, hence an output row of 0.

Usage: 04_causal_mask.py [FIXTURES_DIR]   (default: ../../fixtures/04_causal_mask from here)
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


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def causal_allowed(t):
    # query i may attend to key j iff j <= i: the lower triangle with its diagonal.
    return np.tril(np.ones((t, t), dtype=bool))


def key_padding_allowed(t, length, left):
    # Every query may attend to the real keys only.
    real = np.zeros(t, dtype=bool)
    if left:
        real[t - length:] = True
    else:
        real[:length] = True
    return np.broadcast_to(real, (t, t)).copy()


def masked_softmax(scores, allowed):
    # Softmax over the allowed entries of each row; a row with none is all zeros.
    z = np.where(allowed, scores, -np.inf)
    out = np.zeros_like(scores)
    for i in range(z.shape[0]):
        if not allowed[i].any():
            continue
        e = np.exp(z[i] - z[i][allowed[i]].max())
        out[i] = e / e.sum()
    return out


def masked_attention(q, k, v, allowed):
    scores = q @ k.T / math.sqrt(q.shape[1])
    weights = masked_softmax(scores, allowed)
    return scores, weights, weights @ v


def causal(values, fixtures_dir):
    q, k, v = matrix(values, "Q"), matrix(values, "K"), matrix(values, "V")
    allowed = causal_allowed(q.shape[0])
    scores, weights, output = masked_attention(q, k, v, allowed)
    return {"scores": scores, "mask": allowed.astype(np.float64), "weights": weights,
            "output": output}, []


def padded(values, fixtures_dir):
    left = bool(values["left_padded"])
    seq0 = load(os.path.join(fixtures_dir, "causal.json"))["values"]
    q0, k0, v0 = matrix(seq0, "Q"), matrix(seq0, "K"), matrix(seq0, "V")
    q1, k1, v1 = matrix(values, "q1"), matrix(values, "k1"), matrix(values, "v1")
    t = q1.shape[0]
    if q0.shape[0] != t:
        raise ValueError(f"sequence 0 has {q0.shape[0]} tokens, sequence 1 {t}")
    out = {}
    for b, (q, k, v) in enumerate([(q0, k0, v0), (q1, k1, v1)]):
        length = int(values[f"length{b}"])
        pad = key_padding_allowed(t, length, left)
        allowed = causal_allowed(t) & pad
        _, weights, output = masked_attention(q, k, v, allowed)
        out[f"key_padding{b}"] = pad.astype(np.float64)
        out[f"mask{b}"] = allowed.astype(np.float64)
        out[f"weights{b}"] = weights
        out[f"output{b}"] = output
    # Sequence 0 has no padding: its weights and output are causal.json's (the tests
    # compare them with those), so they are checked against that file, not stored here.
    errors = []
    atol = float(load(os.path.join(fixtures_dir, "causal.json"))["tolerance"]["atol"])
    for key in ("weights", "output"):
        got = out.pop(f"{key}0")
        expected = matrix(seq0, key)
        for i, j in np.argwhere(~(np.abs(got - expected) <= atol)):
            errors.append(f"padded.json sequence 0 (from causal.json Q, K, V): {key}[{i},{j}] "
                          f"recomputes to {got[i, j]:.6f}, causal.json {key}[{i},{j}] holds "
                          f"{expected[i, j]:.4f}")
    out.pop("key_padding0")  # all ones; not stored
    return out, errors


RECOMPUTE = {
    "causal.json": causal,
    "padded.json": padded,
}
INPUTS = {"Q", "K", "V", "q1", "k1", "v1", "left_padded", "length0", "length1"}


def check_file(path, recompute, fixtures_dir):
    """Returns a list of mismatch messages; prints one line per value."""
    name = os.path.basename(path)
    fixture = load(path)
    atol = float(fixture["tolerance"]["atol"])
    rtol = float(fixture["tolerance"]["rtol"])
    values = fixture["values"]
    try:
        actual, errors = recompute(values, fixtures_dir)
    except (KeyError, ValueError, OSError) as e:
        print(f"{name} CANNOT RECOMPUTE")
        return [f"{name}: cannot recompute: {e}"]
    for e in errors:
        print(f"{name} MISMATCH: {e}")
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
            print(f"{name} {key} WRONG SHAPE")
            continue
        diff = np.abs(got - expected)
        bad = np.argwhere(~(diff <= atol + rtol * np.abs(expected)))
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
                                                          "04_causal_mask")
    errors = []
    for name, recompute in RECOMPUTE.items():
        path = os.path.join(fixtures, name)
        if not os.path.exists(path):
            errors.append(f"{name}: not found in {fixtures}")
            continue
        errors.extend(check_file(path, recompute, fixtures))
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print("all fixtures of 04_causal_mask agree with the recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
