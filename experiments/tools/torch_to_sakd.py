#!/usr/bin/env python3
"""torch_to_sakd.py — converts a PyTorch state dict (e.g. a torchvision ResNet or vgg11_bn) to a
sakd checkpoint (DESIGN.md 3.1): root attributes and /model/<name> float32 datasets, plus /meta
when --model is given. Tensor names are kept as they are (a leading "module." dropped), so
torchvision's layout loads one to one; integer buffers (num_batches_tracked) are skipped.
Needs torch to read a .pt file, numpy and h5py to write (optional tools, not needed by the
build); convert() takes numpy arrays and needs no torch.

usage: torch_to_sakd.py STATE_DICT.pt OUT.h5 [--model resnet18 --arch ann --width 1.0
                        --T 4 --dataset cifar10 --classes 10 --in-channels 3]
"""
import argparse
import datetime
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover - reported to the user
    sys.exit(f"torch_to_sakd.py needs numpy and h5py: {e}")


def convert(state, out, meta=None):
    """Writes `state` (name -> numpy array) to the sakd checkpoint `out`; `meta` (a dict with
    arch, model, width, T, dataset, classes, in_channels) becomes /meta when given. Returns the
    names written and the names skipped (non-float arrays)."""
    written, skipped = [], []
    with h5py.File(out, "w") as f:
        f.attrs["format"] = "sakd-checkpoint"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["sakd_version"] = "torch_to_sakd.py"
        f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        model = f.create_group("model")
        for name, array in state.items():
            name = name.removeprefix("module.")
            array = np.asarray(array)
            if not np.issubdtype(array.dtype, np.floating):
                skipped.append(name)  # num_batches_tracked and other integer buffers
                continue
            model[name] = array.astype(np.float32)
            written.append(name)
        if meta:
            m = f.create_group("meta")
            m.attrs["arch"] = meta.get("arch", "ann")
            m.attrs["model"] = meta["model"]
            m.attrs["width"] = float(meta.get("width", 1.0))
            m.attrs["T"] = np.int64(meta.get("T", 4))
            m.attrs["dataset"] = meta.get("dataset", "")
            m.attrs["classes"] = np.int64(meta.get("classes", 0))
            m.attrs["in_channels"] = np.int64(meta.get("in_channels", 0))
    return written, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state_dict")
    ap.add_argument("out")
    ap.add_argument("--model")
    ap.add_argument("--arch", default="ann", choices=["ann", "snn"])
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--dataset", default="")
    ap.add_argument("--classes", type=int, default=0)
    ap.add_argument("--in-channels", type=int, default=0)
    a = ap.parse_args()
    try:
        import torch
    except ImportError as e:  # pragma: no cover - reported to the user
        sys.exit(f"torch_to_sakd.py needs torch to read {a.state_dict}: {e}")
    sd = torch.load(a.state_dict, map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    state = {name: (t.detach().cpu().float() if torch.is_floating_point(t) else t.cpu()).numpy()
             for name, t in sd.items()}
    meta = None
    if a.model:
        meta = {"arch": a.arch, "model": a.model, "width": a.width, "T": a.T,
                "dataset": a.dataset, "classes": a.classes, "in_channels": a.in_channels}
    written, skipped = convert(state, a.out, meta)
    print(f"{a.out}: {len(written)} tensors; skipped {len(skipped)} non-float "
          f"({', '.join(skipped[:3])}{'...' if len(skipped) > 3 else ''})")


if __name__ == "__main__":
    main()
