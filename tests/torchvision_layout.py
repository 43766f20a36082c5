#!/usr/bin/env python3
"""torchvision_layout.py — torchvision's vgg11_bn and resnet18 state dicts load into sakd one to
one and compute what torchvision computes.

For each model a random state dict in torchvision's layout (names, shapes, an integer
num_batches_tracked per BN) is written by experiments/tools/torch_to_sakd.py's convert(), then
`sakd trace` runs it as the student (--weights: train-mode BN, batch statistics) and as the
teacher (--teacher: eval mode, running statistics) on a random batch; both logits are compared
with a float64 numpy forward of the torchvision network written here. Strict loading refuses a
tensor the sakd model lacks (vgg11_bn's conv biases, before sakd had them), so a clean load is
part of the check. The other direction: a resnet18 ANN trained by sakd (imagenet stem, on
Fashion-MNIST), converted by experiments/tools/sakd_to_torch.py's convert() to a torchvision
state dict, gives through the same numpy torchvision forward the logits of `sakd eval --batch`.
Needs numpy and h5py; tests/torchvision_layout.sh skips it without them.

usage: torchvision_layout.py SAKD_BIN WORK_DIR
"""
import os
import subprocess
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "experiments",
                                "tools"))
from sakd_to_torch import convert as sakd_state  # noqa: E402
from torch_to_sakd import convert  # noqa: E402

EPS = 1e-5  # BatchNorm2d's


# ---- the torchvision layers, float64 --------------------------------------------------------

def conv2d(x, w, b, stride, pad):
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, o, ho, wo))
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y if b is None else y + b[None, :, None, None]


def batchnorm(x, sd, name, train):
    if train:
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    else:
        mean, var = sd[name + ".running_mean"], sd[name + ".running_var"]
    xhat = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + EPS)
    return xhat * sd[name + ".weight"][None, :, None, None] + sd[name + ".bias"][None, :, None, None]


def relu(x):
    return np.maximum(x, 0)


def maxpool(x, k, stride, pad):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    y = np.full((n, c, ho, wo), -np.inf)
    for i in range(k):
        for j in range(k):
            y = np.maximum(y, xp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride])
    return y


def adaptive_avgpool(x, oh, ow):
    n, c, h, w = x.shape
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            y[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def linear(x, sd, name):
    return x.reshape(x.shape[0], -1) @ sd[name + ".weight"].T + sd[name + ".bias"]


# ---- the networks ---------------------------------------------------------------------------

VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def vgg11_bn_forward(sd, x, train):
    i = 0
    for v in VGG11:
        if v == "M":
            x = maxpool(x, 2, 2, 0)
            i += 1
            continue
        x = conv2d(x, sd[f"features.{i}.weight"], sd[f"features.{i}.bias"], 1, 1)
        x = relu(batchnorm(x, sd, f"features.{i + 1}", train))
        i += 3
    x = adaptive_avgpool(x, 7, 7)
    x = relu(linear(x, sd, "classifier.0"))  # Dropout: the student runs with model.dropout=0
    x = relu(linear(x, sd, "classifier.3"))
    return linear(x, sd, "classifier.6")


def resnet18_forward(sd, x, train):
    x = relu(batchnorm(conv2d(x, sd["conv1.weight"], None, 2, 3), sd, "bn1", train))
    x = maxpool(x, 3, 2, 1)
    for stage in range(1, 5):
        for block in range(2):
            p = f"layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            out = relu(batchnorm(conv2d(x, sd[p + ".conv1.weight"], None, stride, 1), sd,
                                 p + ".bn1", train))
            out = batchnorm(conv2d(out, sd[p + ".conv2.weight"], None, 1, 1), sd, p + ".bn2", train)
            if p + ".downsample.0.weight" in sd:
                x = batchnorm(conv2d(x, sd[p + ".downsample.0.weight"], None, stride, 0), sd,
                              p + ".downsample.1", train)
            x = relu(out + x)
    return linear(x.mean(axis=(2, 3)), sd, "fc")


# ---- random state dicts in torchvision's layout ---------------------------------------------

def add_conv(sd, rng, name, cout, cin, k, bias):
    sd[name + ".weight"] = rng.normal(0, np.sqrt(2.0 / (cin * k * k)), (cout, cin, k, k))
    if bias:
        sd[name + ".bias"] = rng.uniform(-0.2, 0.2, cout)


def add_bn(sd, rng, name, c):
    sd[name + ".weight"] = rng.uniform(0.5, 1.5, c)
    sd[name + ".bias"] = rng.uniform(-0.3, 0.3, c)
    sd[name + ".running_mean"] = rng.normal(0, 0.2, c)
    sd[name + ".running_var"] = rng.uniform(0.5, 2.0, c)
    sd[name + ".num_batches_tracked"] = np.array(rng.integers(1, 1000), dtype=np.int64)


def add_linear(sd, rng, name, out, inp):
    sd[name + ".weight"] = rng.uniform(-1, 1, (out, inp)) * np.sqrt(3.0 / inp)
    sd[name + ".bias"] = rng.uniform(-0.1, 0.1, out)


def scaled(c, width):
    return max(1, int(np.floor(c * width + 0.5)))


def vgg11_bn_state(rng, width, classes, cin):
    sd, i = {}, 0
    for v in VGG11:
        if v == "M":
            i += 1
            continue
        c = scaled(v, width)
        add_conv(sd, rng, f"features.{i}", c, cin, 3, True)
        add_bn(sd, rng, f"features.{i + 1}", c)
        cin, i = c, i + 3
    hidden = scaled(4096, width)
    add_linear(sd, rng, "classifier.0", hidden, cin * 49)
    add_linear(sd, rng, "classifier.3", hidden, hidden)
    add_linear(sd, rng, "classifier.6", classes, hidden)
    return sd


def resnet18_state(rng, width, classes, cin):
    sd = {}
    c = scaled(64, width)
    add_conv(sd, rng, "conv1", c, cin, 7, False)
    add_bn(sd, rng, "bn1", c)
    cin = c
    for stage, planes in enumerate([64, 128, 256, 512], start=1):
        planes = scaled(planes, width)
        for block in range(2):
            p = f"layer{stage}.{block}"
            add_conv(sd, rng, p + ".conv1", planes, cin, 3, False)
            add_bn(sd, rng, p + ".bn1", planes)
            add_conv(sd, rng, p + ".conv2", planes, planes, 3, False)
            add_bn(sd, rng, p + ".bn2", planes)
            if block == 0 and (stage > 1 or cin != planes):
                add_conv(sd, rng, p + ".downsample.0", planes, cin, 1, False)
                add_bn(sd, rng, p + ".downsample.1", planes)
            cin = planes
    add_linear(sd, rng, "fc", classes, cin)
    return sd


# ---- the check ------------------------------------------------------------------------------

def check(sakd, work, name, state, forward, width, extra, rng):
    classes, batch = 10, 4
    weights = os.path.join(work, name + ".h5")
    written, skipped = convert(state, weights, {"arch": "ann", "model": name, "width": width,
                                                "dataset": "cifar10", "classes": classes,
                                                "in_channels": 3})
    assert skipped and all(s.endswith("num_batches_tracked") for s in skipped), skipped
    x = rng.normal(0, 1, (batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, classes, batch).astype(np.int64)
    batch_file = os.path.join(work, name + "-batch.h5")
    with h5py.File(batch_file, "w") as f:
        f["x"], f["y"] = x, y
    cfg = os.path.join(work, name + ".ini")
    with open(cfg, "w") as f:
        f.write(f"[model]\nname = {name}\narch = ann\nwidth = {width}\n{extra}"
                f"[data]\ndataset = cifar10\n[train]\nbatch = {batch}\n"
                "[distill]\nalpha = 1\nbeta = 0\ngamma = 1\ntau = 4\n")
    out = os.path.join(work, name + "-trace.h5")
    run = subprocess.run([sakd, "trace", cfg, "--batch", batch_file, "--out", out, "--weights",
                          weights, "--teacher", weights], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"FAIL {name}: sakd trace exited {run.returncode}:\n{run.stdout}{run.stderr}")
    sd = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
    xd = x.astype(np.float64)
    worst = 0.0
    with h5py.File(out, "r") as f:
        for dataset, train in (("logits", True), ("teacher_logits", False)):
            got = np.asarray(f[dataset], dtype=np.float64)
            ref = forward(sd, xd, train)
            scale = max(1.0, float(np.abs(ref).max()))
            err = float(np.abs(got - ref).max()) / scale
            worst = max(worst, err)
            # float32 through 8-20 layers: a few 1e-5 of the logits' scale; 1e-3 leaves room
            # and still fails any layout error (a wrong tensor moves the logits by O(1)).
            if not err < 1e-3:
                sys.exit(f"FAIL {name} /{dataset} ({'batch' if train else 'running'} "
                         f"statistics): max error {err:.3g} of {scale:.3g}\nsakd {got[0]}\n"
                         f"numpy {ref[0]}")
    print(f"PASS {name}: {len(written)} tensors, {len(skipped)} num_batches_tracked skipped; "
          f"logits (batch and running statistics) within {worst:.2g} of a float64 torchvision "
          "forward")


def check_to_torch(sakd, work, rng):
    """sakd checkpoint -> torchvision state dict -> the numpy torchvision forward."""
    run_dir, cfg = os.path.join(work, "trained"), os.path.join(work, "trained.ini")
    with open(cfg, "w") as f:
        f.write("[model]\nname = resnet18\narch = ann\nwidth = 0.125\nstem = imagenet\n"
                "[data]\ndataset = fashion-mnist\ntrain_limit = 256\ntest_limit = 16\n"
                f"[train]\nepochs = 1\nbatch = 32\noptimizer = adamw\nlr = 0.003\n"
                f"[run]\nout = {run_dir}\n")
    r = subprocess.run([sakd, "train", cfg], capture_output=True, text=True)
    if r.returncode != 0:
        if "dataset-fashion-mnist" in r.stdout + r.stderr:
            print("SKIP sakd -> torchvision: Fashion-MNIST is not installed")
            return
        sys.exit(f"FAIL: training the resnet18 ANN:\n{r.stdout}{r.stderr}")
    weights = os.path.join(run_dir, "weights.h5")
    state, meta = sakd_state(weights)
    assert meta["model"] == "resnet18", meta
    bn = [k for k in state if k.endswith("num_batches_tracked")]
    assert len(bn) == 20 and not any(k.startswith("distill.") for k in state), sorted(state)
    x = rng.normal(0, 1, (8, 1, 28, 28)).astype(np.float32)
    batch, out = os.path.join(work, "trained-batch.h5"), os.path.join(work, "trained-eval.h5")
    with h5py.File(batch, "w") as f:
        f["x"], f["y"] = x, rng.integers(0, 10, 8).astype(np.int64)
    r = subprocess.run([sakd, "eval", "--weights", weights, "--batch", batch, "--out", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: sakd eval --batch:\n{r.stdout}{r.stderr}")
    with h5py.File(out, "r") as f:
        want = np.asarray(f["logits"], dtype=np.float64)
    sd = {k: np.asarray(v, dtype=np.float64) for k, v in state.items()}
    got = resnet18_forward(sd, x.astype(np.float64), False)
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(got - want).max()) / scale
    if not err < 1e-3:
        sys.exit(f"FAIL sakd -> torchvision: logits differ by {err:.3g} of {scale:.3g}")
    print(f"PASS sakd -> torchvision: a trained resnet18's {len(state)} tensors (20 "
          f"num_batches_tracked added) give sakd eval's logits within {err:.2g}")


def main():
    sakd, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    seed = int(os.environ.get("SAKD_TEST_SEED", np.random.SeedSequence().entropy % 2**32))
    print(f"seed {seed} (SAKD_TEST_SEED={seed} replays it)")
    rng = np.random.default_rng(seed)
    check(sakd, work, "vgg11", vgg11_bn_state(rng, 0.125, 10, 3), vgg11_bn_forward, 0.125,
          "dropout = 0\n", rng)
    check(sakd, work, "resnet18", resnet18_state(rng, 1.0, 10, 3), resnet18_forward, 1.0,
          "stem = imagenet\n", rng)
    check_to_torch(sakd, work, rng)


if __name__ == "__main__":
    main()
