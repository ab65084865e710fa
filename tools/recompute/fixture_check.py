"""The comparison every recomputation script of tools/recompute/ ends with.

A script recomputes the values of each fixture file from the file's inputs alone (its own
numpy code, one function per file) and hands the results here, which compares them with the
fixture under the fixture's tolerance, |actual - expected| <= atol + rtol*|expected|, prints
one line per value and every mismatch, and gives the exit status:

    import fixture_check
    RECOMPUTE = {"single_head.json": single_head}     # file -> values -> {key: array}
    INPUTS = {"X", "Wq"}                               # keys that are given, not computed
    if __name__ == "__main__":
        sys.exit(fixture_check.main(sys.argv, "02_attention", RECOMPUTE, INPUTS))

Every key of a fixture must be an input or recomputed; a recomputed key the fixture lacks,
or a value of another shape, is a problem too.
"""
import json
import os
import sys

import numpy as np


def fixture_value(values, key):
    """A fixture value as a 2-D float64 array: a matrix as it is, a number as [[x]]."""
    m = values[key]
    if not isinstance(m, dict):
        return np.array([[float(m)]])
    data = np.array(m["data"], dtype=np.float64)
    if list(data.shape) != list(m["shape"]):
        raise ValueError(f"{key}: data is {list(data.shape)}, shape says {m['shape']}")
    return data


def check_file(path, recompute, inputs):
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
        if key not in inputs and key not in actual:
            errors.append(f"{name} {key}: no recomputation for this value")
            print(f"{name} {key} NOT CHECKED")
    for key, got in actual.items():
        if key not in values:
            errors.append(f"{name} {key}: missing from the fixture")
            print(f"{name} {key} MISSING")
            continue
        expected = fixture_value(values, key)
        got = np.atleast_2d(np.asarray(got, dtype=np.float64))
        if expected.shape != got.shape:
            errors.append(f"{name} {key}: shape {list(expected.shape)} in the fixture, "
                          f"recomputed {list(got.shape)}")
            print(f"{name} {key} WRONG SHAPE")
            continue
        diff = np.abs(got - expected)
        # Written so that a NaN anywhere is a mismatch.
        bad = np.argwhere(~(diff <= atol + rtol * np.abs(expected)))
        if len(bad) == 0:
            print(f"{name} {key} ok (max |diff| {diff.max():.1e})")
            continue
        print(f"{name} {key} MISMATCH at {len(bad)} entries")
        for i, j in bad:
            errors.append(f"{name} {key}[{i},{j}]: expected {expected[i, j]:.8g}, "
                          f"actual {got[i, j]:.10g} (|diff| {diff[i, j]:.1e} > "
                          f"{atol + rtol * abs(expected[i, j]):.1e})")
    return errors


def main(argv, kata, recompute_table, inputs):
    """Checks every file of recompute_table in argv[1] (default: fixtures/<kata>)."""
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = argv[1] if len(argv) > 1 else os.path.join(here, "..", "..", "fixtures", kata)
    errors = []
    for name, recompute in recompute_table.items():
        path = os.path.join(fixtures, name)
        if not os.path.exists(path):
            errors.append(f"{name}: not found in {fixtures}")
            continue
        errors.extend(check_file(path, recompute, inputs))
    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        return 1
    print(f"all fixtures of {kata} agree with the recomputation")
    return 0
