#!/usr/bin/python3
"""Recomputes the fixtures of kata 13 (quantization) independently with numpy.

Reads only the inputs of each fixture (the tensors, the seed and shape of the outlier
experiment, the parameter count), recomputes every other value and compares it with the
fixture under the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.

Independent of the C++ code on purpose:
  - scales and codes in float32 as the kata computes them (np.float32 division, np.rint for
    round half to even), reconstructions and errors in float64;
  - FP4 values from a table built by decoding every bit pattern, and FP4 rounding by the
    nearest of the sixteen values (not by comparing with the midpoints), ties broken by the
    even mantissa bit;
  - the MXFP4 exponent from np.frexp instead of a logarithm;
  - int4 packing with numpy bit operations on whole arrays;
  - llmk::Rng in Python: 11_harness.py's splitmix64 and Box-Muller on top of it;
  - the int8 product in int64 with numpy's matmul;
  - the training run of Step 7 with its own numpy loop (float32, as the kata trains).

Usage: 13_quantization.py [FIXTURES_DIR]   (default: ../../fixtures/13_quantization)
Prints one line per value, then every mismatch; exits 1 if any value disagrees or is missing.
"""
import math
import sys
from importlib import import_module

import numpy as np

import fixture_check

matrix = fixture_check.fixture_value
F = np.float32


class SplitMix64(import_module("11_harness").SplitMix64):
    """llmk::Rng (splitmix64, written out in 11_harness.py) with its Normal(): Box-Muller on
    1 - u1 and u2."""

    def normal(self):
        u1 = 1.0 - self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def f32(values, key):
    return matrix(values, key).astype(F)


def scalar(x):
    return np.array([[float(x)]])


def sym_codes(x, scale, qmax):
    """clamp(rint(x / s), -qmax, qmax) in float32; a zero scale gives zeros."""
    scale = np.asarray(scale, dtype=F)
    safe = np.where(scale == 0, F(1), scale)
    q = np.clip(np.rint(x / safe), -qmax, qmax)
    return np.where(scale == 0, 0.0, q)


def errors(x, x_hat):
    d = x.astype(np.float64) - x_hat.astype(np.float64)
    return np.abs(d).max(), math.sqrt(np.mean(d * d))


# --- FP4 E2M1 ------------------------------------------------------------------------

def decode_all():
    table = []
    for bits in range(16):
        sign, exp, man = bits >> 3, (bits >> 1) & 3, bits & 1
        mag = man / 2.0 if exp == 0 else (2.0 ** (exp - 1)) * (1.0 + man / 2.0)
        table.append(-mag if sign else mag)
    return np.array(table)


FP4 = decode_all()


def fp4_code(v):
    """The nearest of the sixteen codes with v's sign; ties to an even mantissa bit."""
    negative = math.copysign(1.0, v) < 0
    candidates = range(8, 16) if negative else range(0, 8)
    dist = {c: abs(v - FP4[c]) for c in candidates}
    best = min(dist.values())
    ties = [c for c in candidates if dist[c] == best]
    even = [c for c in ties if c % 2 == 0]
    return even[0] if even else ties[0]


def mx_exponent(amax):
    if amax == 0:
        return -127
    _, e = np.frexp(amax)  # amax = m * 2^e with m in [0.5, 1)
    return int(max(-127, min(127, e - 1 - 2)))


# --- one function per fixture file ---------------------------------------------------

def symmetric(values):
    x = f32(values, "x")
    s = F(np.abs(x).max() / F(127))
    q = sym_codes(x, s, 127)
    x_hat = (q * s).astype(F)
    return {"scale": scalar(s), "half_step": scalar(s / 2), "q": q, "x_hat": x_hat,
            "error": np.abs(x.astype(np.float64) - x_hat.astype(np.float64))}


def affine(x):
    lo, hi = min(F(x.min()), F(0)), max(F(x.max()), F(0))
    s = F((hi - lo) / F(255))
    z = int(np.clip(np.rint(-lo / s), 0, 255))
    q = np.clip(np.rint(x / s) + z, 0, 255)
    return s, z, q, (s * (q - z).astype(F)).astype(F)


def zero_point(values):
    out = {}
    r = f32(values, "relu")
    s = F(np.abs(r).max() / F(127))
    q = sym_codes(r, s, 127)
    r_sym = (q * s).astype(F)
    out.update(sym_scale=scalar(s), sym_q=q, sym_x_hat=r_sym)
    e = errors(r, r_sym)
    out.update(sym_max_error=scalar(e[0]), sym_rms=scalar(e[1]))
    s, z, q, r_aff = affine(r)
    out.update(affine_scale=scalar(s), affine_zero_point=scalar(z), affine_q=q, affine_x_hat=r_aff)
    e = errors(r, r_aff)
    out.update(affine_max_error=scalar(e[0]), affine_rms=scalar(e[1]))
    s, z, q, y_hat = affine(f32(values, "signed"))
    out.update(signed_scale=scalar(s), signed_zero_point=scalar(z), signed_q=q, signed_x_hat=y_hat)
    return out


def slices(x, mode, group=0):
    """Scales of each granularity and, for every entry, its scale (broadcast)."""
    rows, cols = x.shape
    a = np.abs(x)
    if mode == "per_tensor":
        sc = np.array([[a.max()]], dtype=F) / F(127)
        return sc, np.full(x.shape, sc[0, 0], dtype=F)
    if mode == "per_row":
        sc = (a.max(axis=1, keepdims=True) / F(127)).astype(F)
        return sc, np.repeat(sc, cols, axis=1)
    if mode == "per_column":
        sc = (a.max(axis=0, keepdims=True) / F(127)).astype(F)
        return sc, np.repeat(sc, rows, axis=0)
    sc = (a.reshape(rows, cols // group, group).max(axis=2) / F(127)).astype(F)
    return sc, np.repeat(sc, group, axis=1)


def granularity(values):
    out = {}
    w = f32(values, "w")
    for key, mode, g in [("per_tensor", "per_tensor", 0), ("per_row", "per_row", 0),
                         ("per_column", "per_column", 0), ("group4", "group", 4)]:
        sc, each = slices(w, mode, g)
        q = sym_codes(w, each, 127)
        e = errors(w, (q * each).astype(F))
        out[key + "_scales"] = sc
        out[key + "_q"] = q
        out[key + "_rms"] = scalar(e[1])
        out[key + "_max_error"] = scalar(e[0])
    rng = SplitMix64(int(values["outlier_seed"]))
    rows, cols = int(values["outlier_rows"]), int(values["outlier_cols"])
    col, factor = int(values["outlier_column"]), float(values["outlier_factor"])
    x = np.array([[F(rng.normal()) for _ in range(cols)] for _ in range(rows)], dtype=F)
    x[:, col] *= F(factor)
    keep = np.arange(cols) != col
    table = []
    for mode, g in [("per_tensor", 0), ("per_row", 0), ("per_column", 0), ("group", 32),
                    ("group", 64), ("group", 128)]:
        _, each = slices(x, mode, g)
        x_hat = (sym_codes(x, each, 127) * each).astype(F)
        table.append([errors(x, x_hat)[1], errors(x[:, keep], x_hat[:, keep])[1]])
    out["outlier_rms"] = np.array(table)
    return out


def int4(values):
    x = f32(values, "x")
    g = int(values["group_size"])
    rows, cols = x.shape
    sc = (np.abs(x).reshape(rows, cols // g, g).max(axis=2) / F(7)).astype(F)
    each = np.repeat(sc, g, axis=1)
    q = sym_codes(x, each, 7).astype(np.int64)
    nibbles = q.reshape(-1) & 0xF
    packed = nibbles[0::2] | (nibbles[1::2] << 4)
    x_hat = (q * each).astype(F)
    demo = matrix(values, "demo_values").astype(np.int64).reshape(-1) & 0xF
    return {"scales": sc, "q": q, "packed": packed.reshape(1, -1), "x_hat": x_hat,
            "max_error": scalar(errors(x, x_hat)[0]),
            "demo_packed": (demo[0::2] | (demo[1::2] << 4)).reshape(1, -1)}


def fp4(values):
    out = {"code_values": FP4.reshape(2, 8)}
    b = matrix(values, "boundaries")[:, 0]
    out["boundaries"] = np.array(
        [[v, fp4_code(v), FP4[fp4_code(v)], fp4_code(-v), FP4[fp4_code(-v)]] for v in b])
    s = matrix(values, "saturation")[:, 0]
    out["saturation"] = np.array([[v, fp4_code(v), FP4[fp4_code(v)]] for v in s])
    block = f32(values, "block").astype(np.float64).reshape(-1)
    amax = np.abs(block).max()
    e = mx_exponent(amax)
    scaled = block / 2.0 ** e
    codes = np.array([fp4_code(v) for v in scaled])
    out.update(block_amax=scalar(amax), block_exponent=scalar(e), block_e8m0=scalar(e + 127),
               block_scaled=scaled.reshape(4, 8), block_codes=codes.reshape(4, 8).astype(float),
               block_x_hat=(FP4[codes] * 2.0 ** e).reshape(4, 8))
    return out


def fake_quant(values):
    w = f32(values, "w").reshape(-1)
    s = F(np.abs(w).max() / F(7))
    q = sym_codes(w, s, 7)
    e = mx_exponent(np.abs(w.astype(np.float64)).max())
    codes = [fp4_code(v) for v in w.astype(np.float64) / 2.0 ** e]
    clipped = np.abs(w.astype(np.float64)) > 6 * 2.0 ** e
    return {"int4_scale": scalar(s), "int4_q": q.reshape(4, 8),
            "int4_w_hat": (q * s).astype(F).reshape(4, 8),
            "fp4_w_hat": (FP4[codes] * 2.0 ** e).reshape(4, 8),
            "fp4_mask": np.where(clipped, 0.0, 1.0).reshape(4, 8)}


def qat_task(seed, n, d):
    """MakeQatTask of qat_task.h: x row by row from llmk::Rng, then the teacher's weights."""
    rng = SplitMix64(seed)
    x = np.array([[1.0] + [rng.uniform() for _ in range(d - 1)] for _ in range(n)])
    teacher = np.array([0.0, 10.0] + [rng.uniform() for _ in range(d - 2)])
    z = x.astype(F).astype(np.float64) @ teacher
    return x.astype(F), (z > np.median(z)).astype(F)


def int4_rows(w):
    """FakeQuantize kInt4 on one row of whole groups of 32, float32."""
    out = np.empty_like(w)
    for g in range(0, w.size, 32):
        block = w[g:g + 32]
        s = F(np.abs(block).max() / F(7))
        out[g:g + 32] = (sym_codes(block, s, 7) * s).astype(F)
    return out


def fp4_rows(w):
    """FakeQuantize kFp4 on one row of whole blocks of 32."""
    out = np.empty(w.size)
    for g in range(0, w.size, 32):
        block = w[g:g + 32].astype(np.float64)
        e = mx_exponent(np.abs(block).max())
        out[g:g + 32] = [FP4[fp4_code(v)] * 2.0 ** e for v in block / 2.0 ** e]
    return out.astype(F)


def fp4_ste_mask(w):
    mask = np.ones(w.size, dtype=F)
    for g in range(0, w.size, 32):
        block = w[g:g + 32].astype(np.float64)
        e = mx_exponent(np.abs(block).max())
        mask[g:g + 32] = np.where(np.abs(block) > 6 * 2.0 ** e, 0, 1)
    return mask


def train_logistic(x, y, w, steps, lr, decay, quantize=None, mask=None):
    """Gradient descent on the mean cross-entropy of sigmoid(x.w); float32 throughout."""
    w = w.astype(F).copy()
    for t in range(steps):
        w_hat = quantize(w) if quantize else w
        p = (F(1) / (F(1) + np.exp(-(x @ w_hat)))).astype(F)
        grad = ((p - y) @ x / F(len(y))).astype(F)
        if mask:
            grad = grad * mask(w)
        step = F(lr * (1 - t / steps)) if decay else F(lr)
        w = (w - step * grad).astype(F)
    return w


def qat(values):
    x, y = qat_task(int(values["seed"]), int(values["samples"]), int(values["features"]))
    acc = lambda w: float(np.mean((x @ w > 0) == (y == 1)))
    w = train_logistic(x, y, np.zeros(x.shape[1]), int(values["float_steps"]),
                       float(values["float_lr"]), False)
    rows = []
    for quantize, mask in ((int4_rows, None), (fp4_rows, fp4_ste_mask)):
        w_qat = train_logistic(x, y, w, int(values["qat_steps"]), float(values["qat_lr"]), True,
                               quantize, mask)
        rows.append([acc(w), acc(quantize(w)), acc(quantize(w_qat))])
    return {"accuracy": np.array(rows)}


def gemm(values):
    a, b = f32(values, "a"), f32(values, "b")
    sa = (np.abs(a).max(axis=1, keepdims=True) / F(127)).astype(F)
    sb = (np.abs(b).max(axis=0, keepdims=True) / F(127)).astype(F)
    qa, qb = sym_codes(a, sa, 127), sym_codes(b, sb, 127)
    acc = qa.astype(np.int64) @ qb.astype(np.int64)
    return {"a_scales": sa, "a_q": qa, "b_scales": sb, "b_q": qb, "acc": acc,
            "c": (sa * sb * acc.astype(F)).astype(F),
            "dequantized_product": (qa * sa).astype(np.float64) @ (qb * sb).astype(np.float64),
            "float_product": a.astype(np.float64) @ b.astype(np.float64)}


def memory(values):
    n, g = int(values["params"]), int(values["group_size"])
    rows = [(16, 0, 1), (8, 16, g), (4, 16, g), (4, 8, 32)]  # code bits, scale bits, group
    table = []
    for code_bits, scale_bits, group in rows:
        bits = n * code_bits + (n // group) * scale_bits if scale_bits else n * code_bits
        table.append([bits // 8, bits / n])
    return {"bytes": np.array(table, dtype=np.float64)}


RECOMPUTE = {
    "symmetric.json": symmetric,
    "zero_point.json": zero_point,
    "granularity.json": granularity,
    "int4.json": int4,
    "fp4.json": fp4,
    "fake_quant.json": fake_quant,
    "gemm.json": gemm,
    "memory.json": memory,
    "qat.json": qat,
}
INPUTS = {
    "x", "relu", "signed", "w", "outlier_seed", "outlier_rows", "outlier_cols",
    "outlier_column", "outlier_factor", "group_size", "demo_values", "block", "a", "b",
    "params", "seed", "samples", "features", "float_steps", "float_lr", "qat_steps", "qat_lr",
}


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "13_quantization", RECOMPUTE, INPUTS))
