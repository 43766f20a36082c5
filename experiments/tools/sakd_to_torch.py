#!/usr/bin/env python3
"""sakd_to_torch.py — converts a sakd checkpoint (DESIGN.md 3.1) to a PyTorch state dict of the
torchvision-named model: every /model tensor under its own name (they are torchvision's), a
num_batches_tracked (int64 0) beside every BN so that torchvision's load_state_dict(strict=True)
accepts it, the projection heads of distillation (distill.*) left out. An SNN's checkpoint gives
the weights of its ANN twin's layout (convs, BN, linear layers); its LIF layers have no
parameters. Needs numpy and h5py, and torch to write a .pt file (--npz writes NumPy's format
without torch); convert() returns the arrays and needs no torch.

usage: sakd_to_torch.py CHECKPOINT.h5 OUT.pt [--npz]
"""
import argparse
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover - reported to the user
    sys.exit(f"sakd_to_torch.py needs numpy and h5py: {e}")


def convert(path):
    """The state dict of the sakd checkpoint at `path`: name -> numpy array, plus /meta's
    attributes (model, arch, width, ...) as a dict."""
    state, meta = {}, {}
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") not in (b"sakd-checkpoint", "sakd-checkpoint"):
            raise ValueError(f"{path} is not a sakd checkpoint (no format attribute)")
        names = []
        f["model"].visit(lambda n: names.append(n) if isinstance(f["model"][n], h5py.Dataset)
                         else None)
        for name in sorted(names):
            if name.startswith("distill."):
                continue  # the projection heads of SAKD are not part of the network
            state[name] = np.asarray(f["model"][name])
        if "meta" in f:
            meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in
                    f["meta"].attrs.items()}
    for name in list(state):
        if name.endswith(".running_var"):
            state[name[:-len("running_var")] + "num_batches_tracked"] = np.array(0, np.int64)
    return state, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--npz", action="store_true", help="write NumPy .npz (no torch needed)")
    a = ap.parse_args()
    state, meta = convert(a.checkpoint)
    if a.npz:
        np.savez(a.out, **state)
    else:
        try:
            import torch
        except ImportError as e:  # pragma: no cover - reported to the user
            sys.exit(f"sakd_to_torch.py needs torch to write {a.out} (or use --npz): {e}")
        torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, a.out)
    print(f"{a.out}: {len(state)} tensors of {meta.get('model', '?')} ({meta.get('arch', '?')}, "
          f"width {meta.get('width', '?')})")


if __name__ == "__main__":
    main()
