#!/usr/bin/env python3
"""trace_compare.py — checks that torch_step.py computes what sakd computes: the same weights
and batch through `sakd trace` and through torch_step.py's network and losses, then compares
logits, loss terms, taps, firing rates and every gradient.

  trace_compare.py [--sakd PATH] [--mode sakd|snn|ann] [--width 0.25] [--T 4] [--batch 2]

Needs torch and h5py (exit 77 = skipped without them) and a built sakd (default: ./sakd, else
`sakd` on PATH). Writes its files under --work (default: a temporary directory).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--sakd", help="sakd executable (default ./sakd in the repository, else PATH)")
ap.add_argument("--mode", choices=("ann", "snn", "sakd"), default="sakd")
ap.add_argument("--width", type=float, default=0.25)
ap.add_argument("--T", type=int, default=4)
ap.add_argument("--batch", type=int, default=2,
                help="batch (2): at 8 and more one spike that float rounding flips near V_th "
                     "is amplified by the later layers, and the deep taps stop matching")
ap.add_argument("--seed", type=int, default=3)
ap.add_argument("--work", help="directory for the HDF5 files (kept)")
ap.add_argument("--device", help="sakd --device SPEC")
opt = ap.parse_args()

try:
    import h5py
    import numpy as np
    import torch
except ImportError as e:
    print("trace_compare.py: skipped: %s (needs torch, h5py, numpy)" % e, file=sys.stderr)
    sys.exit(77)

# torch_step.py parses its own arguments at import: give it the matching ones.
sys.argv = ["torch_step.py", "--mode", opt.mode, "--width", str(opt.width), "--T", str(opt.T),
            "--batch", str(opt.batch), "--lif", "autograd"]
sys.path.insert(0, HERE)
import torch_step as ts  # noqa: E402

sakd = opt.sakd or (os.path.join(ROOT, "sakd") if os.path.exists(os.path.join(ROOT, "sakd"))
                    else shutil.which("sakd"))
if not sakd:
    print("trace_compare.py: skipped: no sakd executable (build it, or pass --sakd)",
          file=sys.stderr)
    sys.exit(77)

torch.manual_seed(opt.seed)
a = ts.args
step = ts.Step(a)
B = opt.batch
x = torch.randn(B, 1, 28, 28)
y = torch.randint(0, 10, (B,))
if step.teacher is not None:
    # Give the teacher's BN realistic running statistics (as a trained teacher has).
    step.teacher.train()
    with torch.no_grad():
        for _ in range(20):
            step.teacher(torch.randn(64, 1, 28, 28))
    step.teacher.eval()

work = opt.work or tempfile.mkdtemp(prefix="trace_compare.")
os.makedirs(work, exist_ok=True)


def write_ckpt(path, named):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "sakd-checkpoint"
        f.attrs["format_version"] = 1
        g = f.create_group("model")
        for name, t in named:
            g.create_dataset(name, data=t.detach().float().numpy())


def state(module, prefix=""):
    for k, v in module.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            yield prefix + k, v


student_named = list(state(step.student))
if step.proj is not None:
    student_named += list(state(step.proj, "distill.proj."))
write_ckpt(os.path.join(work, "student.h5"), student_named)
if step.teacher is not None:
    write_ckpt(os.path.join(work, "teacher.h5"), state(step.teacher))
with h5py.File(os.path.join(work, "batch.h5"), "w") as f:
    f.create_dataset("x", data=x.numpy())
    f.create_dataset("y", data=y.numpy().astype(np.int32))
ini = os.path.join(work, "trace.ini")
with open(ini, "w") as f:
    f.write("[model]\nname = resnet19\narch = %s\nwidth = %g\nT = %d\n"
            "[data]\ndataset = fashion-mnist\n[train]\nbatch = %d\n"
            % ("ann" if opt.mode == "ann" else "snn", opt.width, opt.T, B))
    if opt.mode == "sakd":
        f.write("[distill]\nteacher = %s\ntransform = proj\ndistance = l2\n"
                "position = stage_after_spike\n" % os.path.join(work, "teacher.h5"))
cmd = [sakd, "trace", ini, "--batch", os.path.join(work, "batch.h5"),
       "--out", os.path.join(work, "trace.h5"), "--weights", os.path.join(work, "student.h5")]
if opt.mode == "sakd":
    cmd += ["--teacher", os.path.join(work, "teacher.h5")]
if opt.device:
    cmd += ["--device", opt.device]
print("$ " + " ".join(cmd))
r = subprocess.run(cmd, capture_output=True, text=True)
if r.returncode != 0:
    print(r.stdout + r.stderr)
    print("trace_compare.py: sakd trace failed (exit %d)" % r.returncode)
    sys.exit(1)

# The same step in torch: train-mode student (and proj heads), eval teacher, no update.
firing = {}
for name, m in step.student.named_modules():
    if isinstance(m, ts.Act) and m.snn:
        m.register_forward_hook(lambda mod, i, o, n=name: firing.__setitem__(n, o.mean().item()))
feats = {}
if step.proj is not None:
    for k, p in enumerate(step.proj):
        p.register_forward_hook(lambda mod, i, o, k=k: feats.__setitem__(k, o.detach()))
step.opt.zero_grad(set_to_none=True)
total, logits = step.loss(x, y)
total.backward()
grads = {n: p.grad for n, p in step.student.named_parameters()}
if step.proj is not None:
    grads.update({"distill.proj." + n: p.grad for n, p in step.proj.named_parameters()})

worst = []


def cmp(name, mine, theirs, rel=1e-3):
    mine = np.asarray(mine, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    err = np.abs(mine - theirs).max() if mine.size else 0.0
    scale = max(np.abs(theirs).max() if theirs.size else 0.0, 1e-12)
    ok = err <= rel * scale + 1e-6
    worst.append((err / scale, name, ok))
    print("%-44s max|diff| %.3g  max|sakd| %.3g  rel %.2g  %s"
          % (name, err, scale, err / scale, "ok" if ok else "DIFF"))


with h5py.File(os.path.join(work, "trace.h5"), "r") as f:
    cmp("logits", logits.detach().numpy(), f["logits"][()])
    for k in ("ce", "feature", "logit", "total"):
        if k in step.terms:
            cmp("loss/" + k, float(torch.as_tensor(step.terms[k]).detach()), f["loss/" + k][()])
    if "features" in f:
        for k in sorted(f["features"].keys(), key=int):
            if int(k) in feats:
                cmp("features/%s/student (proj)" % k, feats[int(k)].numpy(),
                    f["features/%s/student" % k][()])
    if "firing" in f:
        for n in f["firing"].keys():
            if n in firing:
                cmp("firing/" + n, firing[n], f["firing/" + n][()], rel=2e-2)
            else:
                print("firing/%s: no torch layer of that name" % n)
    names = sorted(f["grad"].keys()) if "grad" in f else []
    seen = set()

    def walk(g, prefix=""):
        for k, v in g.items():
            if isinstance(v, h5py.Group):
                walk(v, prefix + k + "/")
            else:
                yield prefix + k, v[()]

    for n, v in walk(f["grad"]):
        key = n.replace("/", ".")
        seen.add(key)
        if key not in grads or grads[key] is None:
            print("grad %s: in sakd's trace, not in torch" % key)
            worst.append((float("inf"), key, False))
            continue
        cmp("grad/" + key, grads[key].numpy(), v)
    missing = [n for n in grads if n not in seen]
    if missing:
        print("torch gradients missing from the trace:", ", ".join(missing))
bad = [w for w in worst if not w[2]]
print("%d compared, %d differ beyond tolerance (files in %s)" % (len(worst), len(bad), work))
sys.exit(1 if bad else 0)
