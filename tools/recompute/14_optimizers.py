#!/usr/bin/python3
"""Recomputes the fixtures of kata 14 (optimizers) independently, in float64.

Reads only the inputs of each fixture (the quadratic, starting points, hyperparameters,
gradients, the race's data and initial weights), recomputes every other value with its
own plain numpy implementation, and compares it with the fixture under the fixture's
tolerance: |actual - expected| <= atol + rtol*|expected|.

Usage: 14_optimizers.py [FIXTURES_DIR]   (default: ../../fixtures/14_optimizers from here)
Prints one line per value, then every mismatch (file, key, index, expected, actual);
exits 1 if any value disagrees or is missing.
"""
import math
import sys

import numpy as np

import fixture_check

NS_A, NS_B, NS_C = 3.4445, -4.7750, 2.0315


# A fixture value as a 2-D array; a number as [[x]].
matrix = fixture_check.fixture_value


def scalar(values, key):
    return float(values[key])


# --- the optimizers, written from their formulas --------------------------------------

def gd(theta, grad_fn, lr, steps):
    rows = [theta]
    for _ in range(steps):
        theta = theta - lr * grad_fn(theta)
        rows.append(theta)
    return np.vstack(rows)


def momentum(theta, grad_fn, lr, beta, nesterov, steps):
    v = np.zeros_like(theta)
    thetas, velocities = [theta], []
    for _ in range(steps):
        g = grad_fn(theta)
        v = beta * v + g
        theta = theta - lr * ((g + beta * v) if nesterov else v)
        thetas.append(theta)
        velocities.append(v)
    return np.vstack(thetas), np.vstack(velocities)


def adam_update(theta, g, m, v, t, lr, beta1, beta2, eps, wd=0.0, decoupled=True,
                correct=True):
    """One Adam(W) step; returns (theta, m, v, m_hat, v_hat)."""
    if wd and not decoupled:
        g = g + wd * theta
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** t) if correct else m
    v_hat = v / (1 - beta2 ** t) if correct else v
    if wd and decoupled:
        theta = theta * (1 - lr * wd)
    theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta, m, v, m_hat, v_hat


def newton_schulz(g, steps, trace=None):
    x = g / (np.linalg.norm(g) + 1e-7)
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    for _ in range(steps):
        a = x @ x.T
        x = NS_A * x + (NS_B * a + NS_C * a @ a) @ x
        if trace is not None:
            trace.append(x.T if tall else x)
    return x.T if tall else x


def ns_scalar(s, steps):
    out = [s]
    for _ in range(steps):
        s = NS_A * s + NS_B * s ** 3 + NS_C * s ** 5
        out.append(s)
    return np.array(out)


def muon_scale(rows, cols):
    return math.sqrt(max(1.0, cols / rows))


def muon_update(theta, g, m, lr, mu, nesterov, ns_steps, wd):
    m = mu * m + g
    u = g + mu * m if nesterov else m
    o = newton_schulz(u, ns_steps)
    theta = theta * (1 - lr * wd) - lr * muon_scale(*theta.shape) * o
    return theta, m, u, o


def race_loss(x, y, w1, w2):
    h = np.tanh(x @ w1)
    r = h @ w2 - y
    loss = 0.5 * np.mean(r * r)
    r = r / r.size
    dw2 = h.T @ r
    dw1 = x.T @ ((r @ w2.T) * (1 - h * h))
    return loss, dw1, dw2


# --- one function per fixture file: inputs in, every computed value out ---------------

def quadratic(values):
    h = matrix(values, "H")
    theta0 = matrix(values, "theta0")
    grad = lambda th: th @ h  # H symmetric: ∇f = H·θ, θ as a row
    out = {"critical_lr": np.array([[2.0 / np.linalg.eigvalsh(h).max()]])}
    for name in ("converges", "oscillates", "diverges"):
        out[f"gd_{name}"] = gd(theta0, grad, scalar(values, f"lr_{name}"), 3)
    lr, beta = scalar(values, "momentum_lr"), scalar(values, "momentum_beta")
    out["heavy_ball"], out["heavy_ball_velocity"] = momentum(theta0, grad, lr, beta, False, 3)
    out["nesterov"], out["nesterov_velocity"] = momentum(theta0, grad, lr, beta, True, 3)
    lr, b1, b2, eps = (scalar(values, k) for k in ("adam_lr", "beta1", "beta2", "eps"))
    theta, m, v = theta0, np.zeros_like(theta0), np.zeros_like(theta0)
    rows = {k: [] for k in ("adam_grad", "adam_m", "adam_v", "adam_m_hat", "adam_v_hat")}
    thetas = [theta0]
    for t in (1, 2, 3):
        g = grad(theta)
        theta, m, v, m_hat, v_hat = adam_update(theta, g, m, v, t, lr, b1, b2, eps)
        for k, val in zip(rows, (g, m, v, m_hat, v_hat)):
            rows[k].append(val)
        thetas.append(theta)
    out.update({k: np.vstack(r) for k, r in rows.items()})
    out["adam"] = np.vstack(thetas)
    first, *_ = adam_update(theta0, grad(theta0), 0 * theta0, 0 * theta0, 1, lr, b1, b2, eps,
                            correct=False)
    out["adam_uncorrected_first"] = first
    return out


def weight_decay(values):
    theta0, g = matrix(values, "theta0"), matrix(values, "grad")
    lr, wd = scalar(values, "lr"), scalar(values, "weight_decay")
    b1, b2, eps = (scalar(values, k) for k in ("beta1", "beta2", "eps"))
    out = {}
    for name, decoupled in (("adamw", True), ("l2", False)):
        theta, m, v = theta0, np.zeros_like(theta0), np.zeros_like(theta0)
        rows = [theta0]
        for t in (1, 2):
            theta, m, v, _, _ = adam_update(theta, g, m, v, t, lr, b1, b2, eps, wd, decoupled)
            rows.append(theta)
        out[name] = np.vstack(rows)
    return out


def schedule(values):
    peak, low = scalar(values, "peak_lr"), scalar(values, "min_lr")
    w, s_total = int(values["warmup_steps"]), int(values["total_steps"])
    lrs = []
    for s in range(int(values["steps_shown"])):
        if s < w:
            lrs.append(peak * (s + 1) / w)
        elif s <= s_total:
            lrs.append(low + 0.5 * (peak - low) * (1 + math.cos(math.pi * (s - w) / (s_total - w))))
        else:
            lrs.append(low)
    return {"lr": np.array([lrs])}


def clipping(values):
    a, b = matrix(values, "grad_a"), matrix(values, "grad_b")
    spike = scalar(values, "spike_factor")
    max_norm = scalar(values, "max_norm")
    out = {}
    for prefix, (ga, gb) in (("", (a, b)), ("spike_", (spike * a, spike * b))):
        norm = math.sqrt((ga * ga).sum() + (gb * gb).sum())
        scale = max_norm / norm if norm > max_norm else 1.0
        out[f"{prefix}norm"] = np.array([[norm]])
        out[f"{prefix}clipped_a"] = ga * scale
        out[f"{prefix}clipped_b"] = gb * scale
    return out


def muon(values):
    g = matrix(values, "G")
    steps = int(values["ns_steps"])
    trace = []
    newton_schulz(g, steps, trace)
    out = {f"X{i + 1}": x for i, x in enumerate(trace)}
    out["G_norm"] = np.array([[np.linalg.norm(g)]])
    out["sigma_trace"] = np.vstack([ns_scalar(s, steps) for s in
                                    np.linalg.svd(g / (np.linalg.norm(g) + 1e-7),
                                                  compute_uv=False)])
    out["tall_result"] = newton_schulz(matrix(values, "G_tall"), steps)
    theta, m = matrix(values, "W"), np.zeros_like(g)
    lr, mu, wd = (scalar(values, k) for k in ("lr", "momentum", "weight_decay"))
    for t, grad in ((1, g), (2, matrix(values, "G_step2"))):
        theta, m, u, _ = muon_update(theta, grad, m, lr, mu, True, steps, wd)
        out[f"muon_u{t}"] = u
        out[f"muon_W{t}"] = theta
    out["muon_scale"] = np.array([[muon_scale(*theta.shape)]])
    return out


def race(values):
    x, y = matrix(values, "x"), matrix(values, "y")
    w1_0, w2_0 = matrix(values, "w1"), matrix(values, "w2")
    steps = int(values["steps"])
    shown = [int(s) for s in matrix(values, "steps_shown")[0]]
    out = {}
    for name in ("sgd", "adamw", "muon"):
        w1, w2 = w1_0.copy(), w2_0.copy()
        s1 = [np.zeros_like(w1), np.zeros_like(w1)]
        s2 = [np.zeros_like(w2), np.zeros_like(w2)]
        losses = []
        for t in range(1, steps + 2):
            loss, dw1, dw2 = race_loss(x, y, w1, w2)
            losses.append(loss)
            if t == steps + 1:
                break
            if name == "sgd":
                lr, beta = scalar(values, "sgd_lr"), scalar(values, "sgd_beta")
                s1[0] = beta * s1[0] + dw1
                s2[0] = beta * s2[0] + dw2
                w1, w2 = w1 - lr * s1[0], w2 - lr * s2[0]
                continue
            adam = [scalar(values, k) for k in ("adam_lr", "beta1", "beta2", "eps")]
            wd = scalar(values, "adam_weight_decay")
            w2, s2[0], s2[1], _, _ = adam_update(w2, dw2, s2[0], s2[1], t, *adam, wd)
            if name == "adamw":
                w1, s1[0], s1[1], _, _ = adam_update(w1, dw1, s1[0], s1[1], t, *adam, wd)
            else:
                w1, s1[0], _, _ = muon_update(w1, dw1, s1[0], scalar(values, "muon_lr"),
                                              scalar(values, "muon_momentum"), True, 5,
                                              scalar(values, "muon_weight_decay"))
        out[f"{name}_losses"] = np.array([[losses[s] for s in shown]])
    return out


RECOMPUTE = {
    "quadratic.json": quadratic,
    "weight_decay.json": weight_decay,
    "schedule.json": schedule,
    "clipping.json": clipping,
    "muon.json": muon,
    "race.json": race,
}
INPUTS = {
    "H", "theta0", "lr_converges", "lr_oscillates", "lr_diverges", "momentum_lr",
    "momentum_beta", "adam_lr", "beta1", "beta2", "eps", "grad", "lr", "weight_decay",
    "peak_lr", "min_lr", "warmup_steps", "total_steps", "steps_shown", "grad_a", "grad_b",
    "spike_factor", "max_norm", "G", "G_tall", "G_step2", "ns_steps", "W", "momentum", "x", "y", "w1",
    "w2", "steps", "sgd_lr", "sgd_beta", "adam_weight_decay", "muon_lr", "muon_momentum",
    "muon_weight_decay",
}


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "14_optimizers", RECOMPUTE, INPUTS))
