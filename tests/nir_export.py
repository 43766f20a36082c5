#!/usr/bin/env python3
"""nir_export.py — `sakd export nir` checked by code sakd did not write.

For resnet19, resnet18 (downsample shortcuts) and sew_resnet18 (ADD connections), a tiny SNN is
trained on Fashion-MNIST, exported with `sakd export nir`, read back with the `nir` package
(PyPI nir 1.0.x, whose reader checks every node's types and shapes) and simulated for T steps
on a batch by a float64 discrete-time interpreter written here from NIR's published node
definitions (Conv2d, LIF by forward Euler with the file's dt, AvgPool2d, Flatten, Affine; a
node's input is the sum of its incoming edges). The mean over the T steps of the Output is
compared with `sakd eval --batch` on the same batch. A vgg11 SNN (max pooling) and an ANN are
refused, naming the reason. Needs numpy, h5py and nir; tests/nir_export.sh skips without them.

usage: nir_export.py SAKD_BIN WORK_DIR
"""
import os
import subprocess
import sys

import h5py
import nir
import numpy as np

T = 2


def run(args, expect=0):
    r = subprocess.run(args, capture_output=True, text=True)
    if expect is not None and r.returncode != expect:
        sys.exit(f"FAIL: {' '.join(args)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r


def conv2d(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    ho, wo = (h + 2 * pad[0] - kh) // stride[0] + 1, (wd + 2 * pad[1] - kw) // stride[1] + 1
    y = np.zeros((n, o, ho, wo))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride[0] * ho:stride[0], j:j + stride[1] * wo:stride[1]]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y + b[None, :, None, None]


def avgpool2d(x, k, s, p):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    ho, wo = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    y = np.zeros((n, c, ho, wo))
    for i in range(k[0]):
        for j in range(k[1]):
            y += xp[:, :, i:i + s[0] * ho:s[0], j:j + s[1] * wo:s[1]]
    return y / (k[0] * k[1])


def simulate(graph, x, dt, steps):
    """Runs the NIR graph for `steps` steps on the static input x [B, C, H, W]."""
    preds = {name: [] for name in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    order, done = [], set()
    while len(order) < len(graph.nodes):  # topological order (the graph is acyclic)
        for name in graph.nodes:
            if name not in done and all(p in done for p in preds[name]):
                order.append(name)
                done.add(name)
    state = {}
    total = None
    for _ in range(steps):
        out = {}
        for name in order:
            node = graph.nodes[name]
            kind = type(node).__name__
            if kind == "Input":
                out[name] = x
                continue
            inp = sum(out[p] for p in preds[name])
            if kind == "Conv2d":
                out[name] = conv2d(inp, node.weight.astype(np.float64),
                                   node.bias.astype(np.float64), tuple(node.stride),
                                   tuple(node.padding))
            elif kind in ("LIF", "IF"):
                v = state.get(name, np.zeros_like(inp))
                if kind == "LIF":  # tau dv/dt = (v_leak - v) + r I, forward Euler
                    v = v + dt / node.tau * (node.v_leak - v + node.r * inp)
                else:  # dv/dt = r I
                    v = v + dt * node.r * inp
                z = (v > node.v_threshold).astype(np.float64)
                state[name] = np.where(z > 0, node.v_reset, v)
                out[name] = z
            elif kind == "AvgPool2d":
                out[name] = avgpool2d(inp, tuple(node.kernel_size), tuple(node.stride),
                                      tuple(node.padding))
            elif kind == "Flatten":
                assert node.start_dim == 0 and node.end_dim == -1, (name, node.start_dim)
                out[name] = inp.reshape(inp.shape[0], -1)
            elif kind == "Affine":
                out[name] = inp @ node.weight.astype(np.float64).T + node.bias
            elif kind == "Output":
                out[name] = inp
            else:
                sys.exit(f"FAIL: the interpreter has no {kind} ({name})")
        o = out["output"]
        total = o if total is None else total + o
    return total / steps


def train(sakd, work, name, model, extra=""):
    run_dir = os.path.join(work, name)
    cfg = os.path.join(work, name + ".ini")
    with open(cfg, "w") as f:
        # A low threshold keeps every layer of these briefly trained nets firing, so that
        # the comparison below is not one of silent networks.
        f.write(f"[model]\nname = {model}\narch = snn\nwidth = 0.125\nT = {T}\n"
                f"threshold = 0.3\n{extra}"
                "[data]\ndataset = fashion-mnist\ntrain_limit = 256\ntest_limit = 16\n"
                f"[train]\nepochs = 1\nbatch = 16\noptimizer = adamw\nlr = 0.01\n"
                f"[run]\nout = {run_dir}\n")
    r = run([sakd, "train", cfg], expect=None)
    if r.returncode != 0:
        if "dataset-fashion-mnist" in r.stdout + r.stderr:
            print("SKIP: Fashion-MNIST is not installed (Debian: dataset-fashion-mnist)")
            sys.exit(77)
        sys.exit(f"FAIL: training {model}:\n{r.stdout}{r.stderr}")
    return os.path.join(run_dir, "weights.h5")


def check(sakd, work, name, model, rng, extra=""):
    weights = train(sakd, work, name, model, extra)
    out = os.path.join(work, name + ".nir")
    run([sakd, "export", "nir", "--weights", weights, out])
    graph = nir.read(out)  # the package's reader: node types and shapes checked
    dt = float(np.asarray(graph.metadata["dt"]))
    kinds = sorted({type(n).__name__ for n in graph.nodes.values()})
    batch = os.path.join(work, name + "-batch.h5")
    x = rng.normal(0, 1, (8, 1, 28, 28)).astype(np.float32)
    with h5py.File(batch, "w") as f:
        f["x"], f["y"] = x, rng.integers(0, 10, 8).astype(np.int64)
    logits_file = os.path.join(work, name + "-eval.h5")
    run([sakd, "eval", "--weights", weights, "--batch", batch, "--out", logits_file])
    with h5py.File(logits_file, "r") as f:
        want = np.asarray(f["logits"], dtype=np.float64)
        rates = {k: float(np.asarray(v)) for k, v in f["firing"].items()}
    silent = [k for k, r in rates.items() if r == 0]
    spread = float(want.std(axis=0).max())
    if silent or spread < 1e-2:
        sys.exit(f"FAIL {name}: the comparison would be trivial: silent layers {silent}, "
                 f"logits' spread over the images {spread:.2g}")
    got = simulate(graph, x.astype(np.float64), dt, T)
    scale = max(1.0, float(np.abs(want).max()))
    per_image = np.abs(got - want).max(axis=1) / scale
    # A spike decided by a float32 rounding at the threshold can flip between sakd and the
    # float64 interpreter; such an image moves by O(1/T) of a weight. Most images must match.
    agree = int((per_image < 1e-4).sum())
    if agree < 6:
        sys.exit(f"FAIL {name}: {agree} of 8 images agree within 1e-4 of the logits' scale "
                 f"(errors {np.array2string(per_image, precision=3)})\nsakd {want[0]}\n"
                 f"nir {got[0]}")
    print(f"PASS {name}: {len(graph.nodes)} NIR nodes ({', '.join(kinds)}), {len(graph.edges)} "
          f"edges; firing rates {min(rates.values()):.3f}-{max(rates.values()):.3f}; {agree} of "
          f"8 images' logits within 1e-4 of sakd eval (median error "
          f"{np.median(per_image):.1e} of the scale {scale:.3g})")


def refused(sakd, work, rng):
    weights = train(sakd, work, "vgg", "vgg11")
    r = run([sakd, "export", "nir", "--weights", weights, os.path.join(work, "vgg.nir")],
            expect=None)
    if r.returncode == 0 or "max pooling" not in r.stderr or "features.3" not in r.stderr:
        sys.exit(f"FAIL: vgg11's export was not refused at its first max pool:\n{r.stderr}")
    if os.path.exists(os.path.join(work, "vgg.nir")):
        sys.exit("FAIL: a refused export left its file behind")
    print("PASS refused: vgg11 (max pooling at features.3)")


def main():
    sakd, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    seed = int(os.environ.get("SAKD_TEST_SEED", np.random.SeedSequence().entropy % 2**32))
    print(f"seed {seed} (SAKD_TEST_SEED={seed} replays it)")
    rng = np.random.default_rng(seed)
    check(sakd, work, "r19", "resnet19", rng)
    check(sakd, work, "r18", "resnet18", rng)
    check(sakd, work, "sew18", "sew_resnet18", rng, "connect = add\n")
    refused(sakd, work, rng)


if __name__ == "__main__":
    main()
