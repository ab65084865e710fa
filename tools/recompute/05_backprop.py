#!/usr/bin/python3
"""Recomputes the fixtures of kata 05 (backpropagation) independently, in float64.

Reads only the inputs of each fixture (x and the parameters, the target, the learning
rate, logits, tokens, targets, dout, the layer-norm weight, bias and eps), recomputes every
other value with its own vectorized numpy code (whole-matrix products, np.logaddexp for the
stable losses, the layer-norm gradient through an explicit Jacobian), and compares it with
the fixture under the fixture's tolerance: |actual - expected| <= atol + rtol*|expected|.

Usage: 05_backprop.py [FIXTURES_DIR]   (default: ../../fixtures/05_backprop from here)
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


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def log_softmax_rows(z):
    # log p = z - log Σ exp(z), the log-sum-exp taken with the row max out.
    m = z.max(axis=1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))


def one_hot(targets, classes):
    y = np.zeros((len(targets), classes))
    y[np.arange(len(targets)), targets] = 1.0
    return y


def mlp(x, w1, b1, w2, b2, targets):
    """Forward and backward of the kata's network; returns a dict of every value."""
    z1 = x @ w1 + b1
    h = sigmoid(z1)
    logits = h @ w2 + b2
    logp = log_softmax_rows(logits)
    batch = x.shape[0]
    loss = -logp[np.arange(batch), targets].mean()
    dlogits = (np.exp(logp) - one_hot(targets, logits.shape[1])) / batch
    dh = dlogits @ w2.T
    dz1 = dh * h * (1.0 - h)
    return {"z1": z1, "h": h, "logits": logits, "probs": np.exp(logp), "loss": loss,
            "dlogits": dlogits, "dW2": h.T @ dlogits, "db2": dlogits.sum(axis=0, keepdims=True),
            "dh": dh, "dz1": dz1, "dW1": x.T @ dz1, "db1": dz1.sum(axis=0, keepdims=True)}


def two_layer(values):
    x = matrix(values, "x")
    params = {k: matrix(values, k) for k in ("W1", "b1", "W2", "b2")}
    targets = np.array([int(values["target"])] * x.shape[0])
    lr = float(values["learning_rate"])
    out = mlp(x, params["W1"], params["b1"], params["W2"], params["b2"], targets)
    grads = {"W1": out["dW1"], "b1": out["db1"], "W2": out["dW2"], "b2": out["db2"]}
    new = {k: params[k] - lr * grads[k] for k in params}
    for k, v in new.items():
        out[f"{k}_new"] = v
    out["loss_after"] = mlp(x, new["W1"], new["b1"], new["W2"], new["b2"], targets)["loss"]
    return out


def language_model(values):
    logits = matrix(values, "logits")
    tokens = matrix(values, "tokens").astype(int).ravel()
    if tokens.size != logits.shape[0] + 1:
        raise ValueError(f"{tokens.size} tokens for {logits.shape[0]} positions")
    logp = log_softmax_rows(logits)
    nxt = tokens[1:]  # row t predicts token t + 1
    vocab = logits.shape[1]
    uniform = -log_softmax_rows(np.zeros((1, vocab)))[0, 0]
    return {"probs": np.exp(logp), "loss": -logp[np.arange(nxt.size), nxt].mean(),
            "uniform_loss": uniform}


def binary(values):
    z = matrix(values, "logits")
    y = matrix(values, "targets")
    # -[y log σ(z) + (1-y) log(1-σ(z))] with log σ(z) = -log(1 + e^-z) = -logaddexp(0, -z).
    loss = (y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)).mean()
    return {"probs": sigmoid(z), "loss": loss, "dlogits": (sigmoid(z) - y) / z.size}


def layers(values):
    x = matrix(values, "x")
    dout = matrix(values, "dout")
    out = {"relu_out": np.maximum(x, 0.0), "relu_dinp": np.where(x > 0.0, dout, 0.0)}
    c = math.sqrt(2.0 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x ** 3))
    out["gelu_out"] = 0.5 * x * (1.0 + t)
    out["gelu_dinp"] = dout * (0.5 * (1.0 + t)
                               + 0.5 * x * (1.0 - t ** 2) * c * (1.0 + 3 * 0.044715 * x ** 2))
    p = np.exp(log_softmax_rows(x))
    out["softmax_out"] = p
    # dinp = Jᵀ dout per row with J = diag(p) - p pᵀ.
    out["softmax_dinp"] = np.stack([(np.diag(r) - np.outer(r, r)).T @ d for r, d in zip(p, dout)])
    w = matrix(values, "ln_weight")
    b = matrix(values, "ln_bias")
    eps = float(values["ln_eps"])
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)  # ÷D, the biased variance
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * rstd
    out.update({"ln_mean": mean, "ln_rstd": rstd, "ln_out": xhat * w + b,
                "ln_dweight": (dout * xhat).sum(axis=0, keepdims=True),
                "ln_dbias": dout.sum(axis=0, keepdims=True)})
    width = x.shape[1]
    rows = []
    for xr, dr, r in zip(xhat, dout, rstd[:, 0]):
        jac = w.T * r * (np.eye(width) - 1.0 / width - np.outer(xr, xr) / width)  # [j, i]
        rows.append(jac.T @ dr)
    out["ln_dinp"] = np.stack(rows)
    return out


RECOMPUTE = {
    "two_layer.json": two_layer,
    "language_model.json": language_model,
    "binary.json": binary,
    "layers.json": layers,
}
INPUTS = {"x", "W1", "b1", "W2", "b2", "target", "learning_rate", "logits", "tokens",
          "targets", "dout", "ln_weight", "ln_bias", "ln_eps"}


if __name__ == "__main__":
    sys.exit(fixture_check.main(sys.argv, "05_backprop", RECOMPUTE, INPUTS))
