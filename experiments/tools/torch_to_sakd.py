#!/usr/bin/env python3
"""torch_to_sakd.py — converts a PyTorch state dict (e.g. a torchvision ResNet) to a sakd
checkpoint (DESIGN.md 3.1): root attributes and /model/<name> float32 datasets, plus /meta
when --model is given. Needs torch and h5py (optional tools, not needed by the build).

usage: torch_to_sakd.py STATE_DICT.pt OUT.h5 [--model resnet18 --arch ann --width 1.0
                        --T 4 --dataset cifar10 --classes 10 --in-channels 3]
"""
import argparse
import datetime
import sys

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover - reported to the user
    sys.exit(f"torch_to_sakd.py needs torch, numpy and h5py: {e}")


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
    sd = torch.load(a.state_dict, map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    skipped = []
    with h5py.File(a.out, "w") as f:
        f.attrs["format"] = "sakd-checkpoint"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["sakd_version"] = "torch_to_sakd.py"
        f.attrs["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        model = f.create_group("model")
        for name, tensor in sd.items():
            name = name.removeprefix("module.")
            if not torch.is_floating_point(tensor):
                skipped.append(name)  # num_batches_tracked and other integer buffers
                continue
            model[name] = tensor.detach().to(torch.float32).numpy()
        if a.model:
            meta = f.create_group("meta")
            meta.attrs["arch"] = a.arch
            meta.attrs["model"] = a.model
            meta.attrs["width"] = float(a.width)
            meta.attrs["T"] = np.int64(a.T)
            meta.attrs["dataset"] = a.dataset
            meta.attrs["classes"] = np.int64(a.classes)
            meta.attrs["in_channels"] = np.int64(a.in_channels)
    print(f"{a.out}: {len(sd) - len(skipped)} tensors; skipped {len(skipped)} non-float ({', '.join(skipped[:3])}{'...' if len(skipped) > 3 else ''})")


if __name__ == "__main__":
    main()
