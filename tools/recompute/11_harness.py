#!/usr/bin/python3
"""Recomputes the fixtures of kata 11 (harness) independently, in float64.

Reads only the inputs of each fixture (logits, temperatures, k, p, the history and the
penalties, the pipeline settings, the u values and seeds, the bigram table, the targets,
n, c and k), recomputes every other value with its own implementation, and compares it
with the fixture under the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.
Token ids are compared exactly.

Independent of the C++ code on purpose:
  - sorting by (-probability, index) with numpy's lexsort for top-k and top-p;
  - splitmix64 written out in Python integers for llmk::Rng;
  - pass@k from exact binomial coefficients (math.comb, fractions.Fraction), not the
    product form the kata asks for;
  - the standard error from numpy's ddof=1 standard deviation.

Usage: 11_harness.py [FIXTURES_DIR]   (default: ../../fixtures/11_harness from here)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import json
import math
import os
import sys
from fractions import Fraction

import numpy as np

MASK64 = (1 << 64) - 1


class SplitMix64:
    """llmk::Rng: splitmix64, Uniform() = (next >> 11) * 2^-53."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next_u64() >> 11) / float(1 << 53)


def matrix(values, key):
    m = values[key]
    data = np.array(m["data"], dtype=np.float64)
    if list(data.shape) != list(m["shape"]):
        raise ValueError(f"{key}: data is {list(data.shape)}, shape says {m['shape']}")
    return data


def row(values, key):
    return matrix(values, key)[0]


def softmax(z, t):
    """softmax(z / t); t = 0 is a one-hot at the first maximum."""
    z = np.asarray(z, dtype=np.float64)
    if t == 0:
        out = np.zeros_like(z)
        out[int(np.argmax(z))] = 1.0  # argmax returns the first maximum
        return out
    e = np.exp((z - z.max()) / t)
    return e / e.sum()


def ranking(p):
    """Token ids by decreasing probability, equal probabilities by increasing id."""
    return np.lexsort((np.arange(len(p)), -np.asarray(p)))


def keep(p, ids):
    out = np.zeros_like(p)
    out[ids] = p[ids] / p[ids].sum()
    return out


def top_k(p, k):
    return keep(p, ranking(p)[:k])


def top_p(p, nucleus):
    order = ranking(p)
    cumulative = np.cumsum(p[order])
    m = int(np.searchsorted(cumulative, nucleus * p.sum(), side="left")) + 1
    return keep(p, order[:min(m, len(p))])


def penalize(z, history, penalty):
    z = np.array(z, dtype=np.float64)
    for t in sorted(set(int(h) for h in history)):
        z[t] = z[t] / penalty if z[t] > 0 else z[t] * penalty
    return z


def draw(p, u):
    """The first id whose cumulative probability exceeds u * sum, among ids with p > 0."""
    cumulative = np.cumsum(p)
    for i in range(len(p)):
        if p[i] > 0 and u * cumulative[-1] < cumulative[i]:
            return i
    return int(np.nonzero(p)[0][-1])


def sampling(values):
    z = row(values, "logits")
    temperatures = row(values, "temperatures")
    p1 = softmax(z, 1.0)
    order = ranking(p1)
    out = {
        "temperature_probs": np.vstack([softmax(z, t) for t in temperatures]),
        "top_k": top_k(p1, int(values["k"]))[None, :],
        "ranked_tokens": order[None, :].astype(np.float64),
        "ranked_cumulative": np.cumsum(p1[order])[None, :],
        "top_p": top_p(p1, float(values["p"]))[None, :],
    }
    history = row(values, "history")
    penalized = penalize(z, history, float(values["penalty"]))
    out["penalized_logits"] = penalized[None, :]
    out["penalized_probs"] = softmax(penalized, 1.0)[None, :]
    stage1 = softmax(penalized, float(values["pipeline_temperature"]))
    stage2 = top_k(stage1, int(values["pipeline_top_k"]))
    stage3 = top_p(stage2, float(values["pipeline_top_p"]))
    out["pipeline_softmax"] = stage1[None, :]
    out["pipeline_top_k_probs"] = stage2[None, :]
    out["pipeline_probs"] = stage3[None, :]
    draws = matrix(values, "draws")
    out["draws"] = np.array([[u, draw(stage3, u)] for u in draws[:, 0]])
    rng = SplitMix64(int(values["seed"]))
    seeded = []
    for _ in range(matrix(values, "seeded_draws").shape[0]):
        u = rng.uniform()
        seeded.append([u, draw(stage3, u)])
    out["seeded_draws"] = np.array(seeded)
    return out


def generation(values):
    table = matrix(values, "bigram_logits")
    probs = np.vstack([softmax(r, 1.0) for r in table])
    out = {"bigram_probs": probs}
    budget = int(values["max_new_tokens"])
    stop = int(values["stop_token"])
    for run in ("a", "b"):
        rng = SplitMix64(int(values[f"seed_{run}"]))
        last = int(values["prompt_token"])
        tokens, uniforms = [], []
        while len(tokens) < budget:
            u = rng.uniform()
            uniforms.append(u)
            t = draw(probs[last], u)
            if t == stop:
                break
            tokens.append(t)
            last = t
        out[f"uniforms_{run}"] = np.array([uniforms])
        out[f"tokens_{run}"] = np.array([tokens], dtype=np.float64)
    return out


def likelihood(values):
    logits = matrix(values, "logits")
    targets = row(values, "targets").astype(int)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    ll = log_softmax[np.arange(len(targets)), targets]
    return {
        "log_softmax": log_softmax,
        "token_log_likelihoods": ll[None, :],
        "total_log_likelihood": ll.sum(),
        "mean_log_likelihood": ll.mean(),
        "perplexity": math.exp(-ll.mean()),
    }


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def scoring(values):
    cases = matrix(values, "pass_at_k")
    recomputed = cases.copy()
    for r, (n, c, k, _) in enumerate(cases):
        recomputed[r, 3] = pass_at_k(int(n), int(c), int(k))
    bench = matrix(values, "benchmark")
    table = bench.copy()
    for r, (n, c, _, _) in enumerate(bench):
        table[r, 2] = pass_at_k(int(n), int(c), 1)
        table[r, 3] = pass_at_k(int(n), int(c), 2)
    summary = np.array([[table[:, j].mean(), table[:, j].std(ddof=1) / math.sqrt(len(table))]
                        for j in (2, 3)])
    return {"pass_at_k": recomputed, "benchmark": table, "summary": summary}


RECOMPUTE = {
    "sampling.json": sampling,
    "generation.json": generation,
    "likelihood.json": likelihood,
    "scoring.json": scoring,
}
INPUTS = {"logits", "temperatures", "k", "p", "history", "penalty", "pipeline_temperature",
          "pipeline_top_k", "pipeline_top_p", "seed", "bigram_logits", "prompt_token",
          "stop_token", "max_new_tokens", "seed_a", "seed_b", "targets"}
# Keys whose values are token ids, compared exactly: whole matrices, or some columns.
EXACT = {"ranked_tokens": None, "tokens_a": None, "tokens_b": None, "draws": [1],
         "seeded_draws": [1]}


def compare(name, key, expected, got, atol, rtol):
    """Returns a list of mismatch messages for one value."""
    expected = np.atleast_2d(np.asarray(expected, dtype=np.float64))
    got = np.atleast_2d(np.asarray(got, dtype=np.float64))
    if expected.shape != got.shape:
        return [f"{name} {key}: shape {list(expected.shape)} in the fixture, "
                f"recomputed {list(got.shape)}"]
    allowed = atol + rtol * np.abs(expected)
    if key in EXACT:
        columns = EXACT[key] if EXACT[key] is not None else range(expected.shape[1])
        allowed = allowed.copy()
        for j in columns:
            allowed[:, j] = 0.0
    diff = np.abs(got - expected)
    errors = []
    for i, j in np.argwhere(diff > allowed):
        errors.append(f"{name} {key}[{i},{j}]: expected {expected[i, j]:.4f}, "
                      f"actual {got[i, j]:.6f} (|diff| {diff[i, j]:.1e} > "
                      f"{allowed[i, j]:.1e})")
    return errors


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
        value = values[key]
        expected = matrix(values, key) if isinstance(value, dict) else float(value)
        problems = compare(name, key, expected, got, atol, rtol)
        if problems:
            print(f"{name} {key} MISMATCH at {len(problems)} entries")
            errors.extend(problems)
        else:
            diff = np.max(np.abs(np.atleast_2d(got) - np.atleast_2d(expected)))
            print(f"{name} {key} ok (max |diff| {diff:.1e})")
    return errors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "fixtures",
                                                          "11_harness")
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
    print("all fixtures of 11_harness agree with the recomputation")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
