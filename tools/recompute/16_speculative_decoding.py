#!/usr/bin/python3
"""Recomputes the fixtures of kata 16 (speculative decoding) independently, in float64.

Reads only the inputs of each fixture (the target's logits and the drafts; p and q; alpha
and c; n, gamma and the cache rows before the rollback), recomputes every other value with
its own plain numpy implementation, and compares it with the fixture under the fixture's
tolerance: |actual - expected| <= atol + rtol*|expected|.

Usage: 16_speculative_decoding.py [FIXTURES_DIR]   (default: ../../fixtures/16_speculative_decoding)
Prints one line per value, then every mismatch; exits 1 if any value disagrees or is missing.
"""
import sys

import numpy as np

import fixture_check


matrix = fixture_check.fixture_value


def as_scalar(x):
    return np.array([[float(x)]])


# --- speculative decoding from its definitions -----------------------------------------

def verify_greedy(drafts, logits):
    """Keeps drafts while they equal the first maximum of their row, then that row's."""
    kept = []
    for i, d in enumerate(drafts):
        best = int(np.argmax(logits[i]))  # numpy's argmax returns the first maximum
        if d != best:
            return kept + [best], len(kept)
        kept.append(d)
    return kept + [int(np.argmax(logits[len(drafts)]))], len(kept)


def one_position(p, q):
    """Acceptance probabilities, kept mass, alpha, residual and the output by enumeration."""
    with np.errstate(divide="ignore", invalid="ignore"):
        accept = np.where(q > 0, np.minimum(1.0, p / np.where(q > 0, q, 1.0)), 0.0)
    kept = q * accept
    alpha = kept.sum()
    positive = np.clip(p - q, 0.0, None)
    residual = positive / positive.sum() if positive.sum() > 0 else p.copy()
    output = kept + (1.0 - alpha) * residual
    return accept, kept, alpha, positive, residual, output


def expected_tokens(alpha, gamma):
    return sum(alpha ** j for j in range(gamma + 1))


# --- one function per fixture file -----------------------------------------------------

def greedy(values):
    logits = matrix(values, "logits")
    out = {"argmax": np.array([[float(np.argmax(row)) for row in logits]])}
    for case in ("reject", "all", "first"):
        drafts = [int(x) for x in matrix(values, "drafts_" + case)[0]]
        tokens, accepted = verify_greedy(drafts, logits)
        out["tokens_" + case] = np.array([tokens], dtype=np.float64)
        out["accepted_" + case] = as_scalar(accepted)
    out["tie_argmax"] = as_scalar(np.argmax(matrix(values, "tie_row")[0]))
    return out


def acceptance(values):
    p, q = matrix(values, "p")[0], matrix(values, "q")[0]
    accept, kept, alpha, positive, residual, output = one_position(p, q)
    alpha_b = (q * accept).sum()
    wrong = kept + (1.0 - alpha_b) * p
    p3, q3 = matrix(values, "p3")[0], matrix(values, "q3")[0]
    _, _, alpha3, _, residual3, output3 = one_position(p3, q3)
    return {"accept": [accept], "kept": [kept], "alpha": as_scalar(alpha),
            "positive_part": [positive], "residual": [residual], "output": [output],
            "wrong_from_p": [wrong], "alpha3": as_scalar(alpha3), "residual3": [residual3],
            "output3": [output3]}


def cost(values):
    out = {}
    for case, gammas in (("a", range(1, 9)), ("b", range(1, 5))):
        alpha, c = float(values["alpha_" + case]), float(values["c_" + case])
        rows = [[g, expected_tokens(alpha, g), expected_tokens(alpha, g) / (g * c + 1.0)]
                for g in gammas]
        out["table_" + case] = np.array(rows)
        speedups = [r[2] for r in rows]
        out["best_gamma_" + case] = as_scalar(gammas[int(np.argmax(speedups))])
    return out


def rollback(values):
    n, gamma = int(values["n"]), int(values["gamma"])
    rows = []
    for k in range(gamma + 1):
        draft_fed = n + gamma - 1  # x_1..x_n and d_1..d_(gamma-1)
        target_fed = n + gamma     # x_1..x_n and every draft
        rows.append([k, draft_fed, target_fed, min(draft_fed, n + k), n + k, n + k + 1])
    keep = int(values["keep"])
    keys = matrix(values, "keys_before").copy()
    vals = matrix(values, "values_before").copy()
    keys[keep:] = 0.0
    vals[keep:] = 0.0
    return {"lengths": np.array(rows, dtype=np.float64), "keys_after": keys, "values_after": vals}


RECOMPUTE = {"greedy.json": greedy, "acceptance.json": acceptance, "cost.json": cost,
             "rollback.json": rollback}
INPUTS = {"logits", "drafts_reject", "drafts_all", "drafts_first", "tie_row", "p", "q", "p3",
          "q3", "alpha_a", "c_a", "alpha_b", "c_b", "n", "gamma", "keys_before",
          "values_before", "keep"}

if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "16_speculative_decoding", RECOMPUTE, INPUTS))
