#!/usr/bin/env python3
"""make_batch.py — writes a batch file for `sakd trace` (DESIGN.md 3.2) from a dataset.

/x float32 [B, C, H, W], normalized with the dataset's per-channel mean and std (no
augmentation); /y int64 [B]. Needs numpy and h5py (optional tools, not needed by the build).

usage: make_batch.py OUT.h5 [--dataset fashion-mnist|mnist|cifar10|cifar100] [--dir DIR]
                     [--split train|test] [--start I] [--count B]
"""
import argparse
import gzip
import os
import sys

import numpy as np

try:
    import h5py
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("make_batch.py needs h5py (pip install h5py)")

NORMALIZATION = {
    "fashion-mnist": ([0.2860], [0.3530]),
    "mnist": ([0.1307], [0.3081]),
    "cifar10": ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]),
    "cifar100": ([0.5071, 0.4867, 0.4408], [0.2675, 0.2565, 0.2761]),
}
DEFAULT_DIRS = {
    "fashion-mnist": "/usr/share/datasets/fashion-mnist",
    "mnist": "/usr/share/datasets/mnist",
}


def read_maybe_gz(path):
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                return f.read()
    sys.exit(f"make_batch.py: {path} (or .gz) not found")


def load_idx(directory, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_maybe_gz(os.path.join(directory, f"{prefix}-images-idx3-ubyte"))
    labels = read_maybe_gz(os.path.join(directory, f"{prefix}-labels-idx1-ubyte"))
    if int.from_bytes(images[0:4], "big") != 0x803 or int.from_bytes(labels[0:4], "big") != 0x801:
        sys.exit("make_batch.py: wrong IDX magic")
    n, rows, cols = (int.from_bytes(images[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    x = np.frombuffer(images, np.uint8, n * rows * cols, 16).reshape(n, 1, rows, cols)
    y = np.frombuffer(labels, np.uint8, n, 8).astype(np.int64)
    return x, y


def load_cifar(directory, name, split):
    for sub in ("", "cifar-10-batches-bin", "cifar-100-binary"):
        base = os.path.join(directory, sub)
        if name == "cifar10":
            files = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
            record, label_at = 3073, 0
        else:
            files = ["train.bin" if split == "train" else "test.bin"]
            record, label_at = 3074, 1
        paths = [os.path.join(base, f) for f in files]
        if all(os.path.exists(p) for p in paths):
            raw = np.concatenate([np.fromfile(p, np.uint8).reshape(-1, record) for p in paths])
            y = raw[:, label_at].astype(np.int64)
            x = raw[:, record - 3072:].reshape(-1, 3, 32, 32)
            return x, y
    sys.exit(f"make_batch.py: no {name} binary files under {directory}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--dataset", default="fashion-mnist", choices=sorted(NORMALIZATION))
    ap.add_argument("--dir")
    ap.add_argument("--split", default="test", choices=["train", "test"])
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=16)
    a = ap.parse_args()
    directory = a.dir or DEFAULT_DIRS.get(a.dataset)
    if not directory:
        sys.exit("make_batch.py: --dir is needed for CIFAR")
    if a.dataset.startswith("cifar"):
        x, y = load_cifar(directory, a.dataset, a.split)
    else:
        x, y = load_idx(directory, a.split)
    if a.start < 0 or a.count < 1 or a.start + a.count > len(y):
        sys.exit(f"make_batch.py: samples {a.start}..{a.start + a.count - 1} outside 0..{len(y) - 1}")
    mean, std = (np.array(v, np.float64).reshape(1, -1, 1, 1) for v in NORMALIZATION[a.dataset])
    sel = slice(a.start, a.start + a.count)
    xb = ((x[sel].astype(np.float64) / 255.0 - mean) / std).astype(np.float32)
    with h5py.File(a.out, "w") as f:
        f["x"] = xb
        f["y"] = y[sel]
    print(f"{a.out}: /x {list(xb.shape)} float32, /y [{a.count}] int64 from {a.dataset} {a.split} "
          f"samples {a.start}..{a.start + a.count - 1}")


if __name__ == "__main__":
    main()
