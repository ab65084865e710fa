#!/usr/bin/python3
"""Recomputes the fixtures of kata 03 (why √d_k) independently, in float64.

Reads only the inputs of each fixture (d_k, the component variances, the sample
count, the logits and scales, the d_k of the worked example), recomputes every other
value with its own plain numpy code, and compares it with the fixture under the
fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.

The standard deviation of the Monte-Carlo estimator is recomputed by a route other
than the README's index counting: cumulants of independent terms add, so with
Y = q_i·k_i (E[Y²] = 1, E[Y⁴] = 3·3 = 9, fourth cumulant 9 - 3·1² = 6) the sum
X = q·k has second cumulant d and fourth cumulant 6d, hence E[X⁴] = 6d + 3d².

Usage: 03_scaling.py [FIXTURES_DIR]   (default: ../../fixtures/03_scaling from here)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import json
import os
import sys

import numpy as np


def matrix(values, key):
    m = values[key]
    data = np.array(m["data"], dtype=np.float64)
    if list(data.shape) != list(m["shape"]):
        raise ValueError(f"{key}: data is {list(data.shape)}, shape says {m['shape']}")
    return data


def estimator_sd(d, n):
    # Var(X²) = E[X⁴] - E[X²]², E[X⁴] = κ4 + 3·κ2² with κ2 = d, κ4 = 6d.
    second = d
    fourth = 6.0 * d + 3.0 * d**2
    return np.sqrt((fourth - second**2) / n)


def dot_variance(values):
    d = matrix(values, "d_k")  # [1, 5]
    var = matrix(values, "component_variances")  # [rows, 2]: σ_q², σ_k²
    n = float(values["num_samples"])
    # Var(q·k) = Σ_i E[q_i²]·E[k_i²] (mean 0, independent): one row per variance pair.
    variance = np.outer(var[:, 0] * var[:, 1], d[0])
    sd = estimator_sd(d, n)
    # (X/√d)² = X²/d, so its standard deviation is that of X² divided by d.
    return {"variance": variance, "estimator_sd": sd, "scaled_estimator_sd": sd / d}


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def entropy(p):
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())


def jacobian(p):
    return np.diag(p) - np.outer(p, p)


def softmax_scale(values):
    logits = matrix(values, "logits")[0]
    scales = matrix(values, "scales")[0]
    out = {}
    rows, stats, norms = [], [], []
    for s in scales:
        p = softmax(s * logits)
        j = jacobian(p)
        rows.append(p)
        stats.append([p.max(), entropy(p)])
        norms.append([np.linalg.norm(j, "fro")])
        out[f"jacobian_scale{int(s)}"] = j
    out["softmax"] = np.array(rows)
    out["statistics"] = np.array(stats)
    out["jacobian_norm"] = np.array(norms)
    return out


# The worked example of Step 5: q is all ones and key j has +1 in its first a_j
# components and -1 in the rest, so q·k_j = a_j - (d_k - a_j) = 2·a_j - d_k.
AGREEMENTS = {4: [4, 3, 2, 1], 64: [40, 36, 32, 28]}


def dk_example(values):
    out = {}
    weights, stats = [], []
    for key, d in (("d4", int(values["d_k_small"])), ("d64", int(values["d_k_large"]))):
        q = np.ones(d)
        keys = np.array([[1.0] * a + [-1.0] * (d - a) for a in AGREEMENTS[d]])
        scores = keys @ q
        scaled = scores / np.sqrt(d)
        out[f"scores_{key}"] = scores[None, :]
        out[f"scaled_{key}"] = scaled[None, :]
        for z in (scores, scaled):
            p = softmax(z)
            weights.append(p)
            stats.append([p.max(), entropy(p), np.linalg.norm(jacobian(p), "fro")])
    out["weights"] = np.array(weights)
    out["statistics"] = np.array(stats)
    return out


RECOMPUTE = {
    "dot_variance.json": dot_variance,
    "softmax_scale.json": softmax_scale,
    "dk_example.json": dk_example,
}
INPUTS = {"d_k", "component_variances", "num_samples", "logits", "scales", "d_k_small",
          "d_k_large"}


def check_file(path, recompute):
    """Returns a list of mismatch messages; prints one line per value."""
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
        got = np.asarray(got, dtype=np.float64)
        if expected.shape != got.shape:
            errors.append(f"{name} {key}: shape {list(expected.shape)} in the fixture, "
                          f"recomputed {list(got.shape)}")
            print(f"{name} {key} WRONG SHAPE")
            continue
        diff = np.abs(got - expected)
        bad = np.argwhere(diff > atol + rtol * np.abs(expected))
        if len(bad) == 0:
            rel = diff / np.where(expected == 0, 1.0, np.abs(expected))
            print(f"{name} {key} ok (max relative diff {rel.max():.1e})")
            continue
        print(f"{name} {key} MISMATCH at {len(bad)} entries")
        for i, j in bad:
            errors.append(f"{name} {key}[{i},{j}]: expected {expected[i, j]:.4e}, "
                          f"actual {got[i, j]:.6e} (|diff| {diff[i, j]:.1e} > "
                          f"{atol + rtol * abs(expected[i, j]):.1e})")
    return errors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "fixtures",
                                                          "03_scaling")
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
    print("all fixtures of 03_scaling agree with the recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
