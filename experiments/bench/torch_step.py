#!/usr/bin/env python3
"""torch_step.py — sakd's training step (resnet19 ANN / SNN / SAKD) in plain PyTorch, timed.

A reference point for `sakd bench train`: the same network (src/nn/model.c), the same LIF
(DESIGN.md §2.1), the same losses (src/distill/distill.c, DESIGN.md §2.5) and the same SGD
(momentum 0.9, Nesterov, weight decay 5e-4), on random Fashion-MNIST-shaped inputs. Prints
`median_step_ms <ms>` (the line compare_torch.sh reads), images/s and peak memory.

  torch_step.py --mode sakd --width 0.25 --T 4 --batch 32 --reps 5
  torch_step.py --lif-layer 4096          # Open Neuromorphic benchmark: Linear(n, n) + LIF, T=500
  torch_step.py --check                   # LIF and the step checked against DESIGN.md formulas

PyTorch is optional: without it the script says so and exits 77 (skipped).
"""
import argparse
import csv
import math
import os
import platform
import resource
import statistics
import sys
import time

EXIT_SKIPPED = 77


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="sakd's training step in plain PyTorch, timed (see the file header).")
    p.add_argument("--mode", choices=("ann", "snn", "sakd"), default="sakd",
                   help="ann: ReLU resnet19, CE; snn: LIF resnet19, CE; sakd: SNN student "
                        "distilled from a frozen ANN teacher (default sakd)")
    p.add_argument("--model", default="resnet19", choices=("resnet19",))
    p.add_argument("--width", type=float, default=0.25, help="channel multiplier (0.25)")
    p.add_argument("--T", type=int, default=4, help="time steps (4)")
    p.add_argument("--batch", type=int, default=32, help="mini-batch (32)")
    p.add_argument("--size", type=int, default=28, help="image height = width (28)")
    p.add_argument("--channels", type=int, default=1, help="input channels (1)")
    p.add_argument("--classes", type=int, default=10, help="classes (10)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="torch.set_num_threads (default: all cores, here %d)"
                        % (os.cpu_count() or 1))
    p.add_argument("--reps", type=int, default=5, help="timed steps (5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (2)")
    p.add_argument("--lif", choices=("autograd", "fused"), default="autograd",
                   help="autograd: per-step ops with a surrogate spike function, the usual "
                        "PyTorch SNN code (default); fused: one autograd.Function per layer with "
                        "the hand-written BPTT of DESIGN.md §2.1 (saves only h and s, like "
                        "sakd's kernel)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--breakdown", action="store_true",
                   help="after the timed steps, time one more by phase (teacher forward, student "
                        "forward, losses, backward, optimizer)")
    p.add_argument("--csv", metavar="FILE", help="append one row of results to FILE")
    p.add_argument("--lif-layer", type=int, metavar="N",
                   help="instead: Linear(N, N) + multi-step LIF, T = --lif-T, batch --lif-batch, "
                        "forward + backward (Open Neuromorphic SNN-library benchmark)")
    p.add_argument("--lif-T", type=int, default=500, help="time steps of --lif-layer (500)")
    p.add_argument("--lif-batch", type=int, default=16, help="batch of --lif-layer (16)")
    p.add_argument("--check", action="store_true",
                   help="instead: check the LIF against DESIGN.md §2.1 on a hand-made sequence "
                        "and the losses against their formulas; exit 1 on a mismatch")
    # Loss weights and the LIF, DESIGN.md defaults (small datasets: alpha 0, beta 100, gamma 1,
    # tau 20; lambda 0.5, V_th 1).
    p.add_argument("--alpha", type=float, default=0.0)
    p.add_argument("--beta", type=float, default=100.0)
    p.add_argument("--gamma", type=float, default=1.0)
    p.add_argument("--tau", type=float, default=20.0)
    p.add_argument("--decay", type=float, default=0.5)
    p.add_argument("--threshold", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=0.1)
    a = p.parse_args(argv)
    for k in ("T", "batch", "size", "threads", "reps", "lif_T", "lif_batch"):
        if getattr(a, k) < 1:
            p.error("--%s must be at least 1" % k.replace("_", "-"))
    if not a.width > 0:
        p.error("--width must be positive")
    return a


args = parse_args()
try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    print("torch_step.py: skipped: PyTorch is not importable (%s); install it with "
          "'pip install torch' to run the PyTorch side of the benchmark" % e, file=sys.stderr)
    sys.exit(EXIT_SKIPPED)


# ---- the LIF neuron (DESIGN.md §2.1; hard reset, triangle surrogate, detach_reset false) ----

class SpikeTriangle(torch.autograd.Function):
    """s = (u >= 0), ds/du = max(0, 1 - |u|), u = h - V_th."""

    @staticmethod
    def forward(ctx, u):
        ctx.save_for_backward(u)
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, gs):
        (u,) = ctx.saved_tensors
        return gs * (1.0 - u.abs()).clamp_(min=0.0)


def lif_autograd(x, T, decay, vth):
    """x: [T·B, ...] time-major input current -> spikes, autograd through every step.
    v = h·(1 - s) differentiated by autograd gives dv/dh = (1 - s) - h·g(u), §2.1's hard reset."""
    # unbind, not xs[t]: each indexing op's backward would write a zero-filled gradient the
    # size of all of x (quadratic in T; 30x slower at T = 500); unbind's backward stacks once.
    xs = x.reshape(T, x.shape[0] // T, *x.shape[1:]).unbind(0)
    v = None
    out = []
    for t in range(T):
        h = xs[t] if v is None else decay * v + xs[t]
        s = SpikeTriangle.apply(h - vth)
        v = h * (1.0 - s)
        out.append(s)
    return torch.stack(out).reshape(x.shape)


class LIFFused(torch.autograd.Function):
    """The whole multi-step LIF as one op: forward keeps h (float) and s (uint8), backward is
    §2.1's BPTT written out: gh[t] = gs[t]·g(u[t]) + λ·gh[t+1]·((1 - s[t]) - h[t]·g(u[t]))."""

    @staticmethod
    def forward(ctx, x, T, decay, vth):
        xs = x.reshape(T, x.shape[0] // T, *x.shape[1:])
        h_all = torch.empty_like(xs)
        s_all = torch.empty_like(xs)
        v = torch.zeros_like(xs[0])
        for t in range(T):
            h = torch.add(xs[t], v, alpha=decay, out=h_all[t])
            s = s_all[t].copy_(h >= vth)
            v = h * (1.0 - s)
        ctx.save_for_backward(h_all, s_all.to(torch.uint8))
        ctx.T, ctx.decay, ctx.vth = T, decay, vth
        return s_all.reshape(x.shape)

    @staticmethod
    def backward(ctx, gs):
        h_all, s_all = ctx.saved_tensors
        T, decay, vth = ctx.T, ctx.decay, ctx.vth
        gs = gs.reshape(h_all.shape)
        gx = torch.empty_like(h_all)
        gh = None
        for t in range(T - 1, -1, -1):
            h = h_all[t]
            g = (1.0 - (h - vth).abs()).clamp_(min=0.0)
            ght = gs[t] * g
            if gh is not None:
                dvdh = (1.0 - s_all[t].to(h.dtype)) - h * g
                ght = ght + decay * gh * dvdh
            gx[t] = ght
            gh = ght
        return gx.reshape(gs.shape[0] * gs.shape[1], *gs.shape[2:]), None, None, None


class Act(nn.Module):
    """ReLU in the ANN, multi-step LIF in the SNN (input time-major [T·B, ...])."""

    def __init__(self, snn, T=1, decay=0.5, vth=1.0, impl="autograd"):
        super().__init__()
        self.snn, self.T, self.decay, self.vth, self.impl = snn, T, decay, vth, impl

    def forward(self, x):
        if not self.snn:
            return F.relu(x)
        if self.impl == "fused":
            return LIFFused.apply(x, self.T, self.decay, self.vth)
        return lif_autograd(x, self.T, self.decay, self.vth)


# ---- resnet19 as src/nn/model.c builds it --------------------------------------------------

def scaled(channels, width):
    """model.c's scaled(): round(channels·width), at least 1 (floor(v + 0.5), not banker's)."""
    return max(1, int(math.floor(channels * width + 0.5)))


class BasicBlock(nn.Module):
    """conv3x3(stride)–BN–act–conv3x3–BN, + shortcut (identity, or conv1x1(stride)–BN when the
    stride or the channel count changes), act after the add. Names as torchvision/sakd."""

    def __init__(self, cin, planes, stride, act):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.sn1 = act()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.sn2 = act()
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, 0, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.sn1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        idn = x if self.downsample is None else self.downsample(x)
        return self.sn2(out + idn)


class ResNet19(nn.Module):
    """stem conv3x3(in→64)–BN–act; layer1 3×128 s1, layer2 3×256 s2, layer3 2×512 s2; global
    average pool; fc1 512→256–act; fc2 256→classes; every count × width. The SNN computes the
    stem conv–BN once on the analog input and repeats it T times (time-major), applies fc1 and
    its LIF per step, and fc2 once to the mean over T (DESIGN.md §2.2, model.c)."""

    def __init__(self, in_ch, classes, width, snn, T=1, decay=0.5, vth=1.0, impl="autograd"):
        super().__init__()
        self.snn, self.T = snn, (T if snn else 1)

        def act():
            return Act(snn, T, decay, vth, impl)

        c = scaled(64, width)
        self.conv1 = nn.Conv2d(in_ch, c, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.sn1 = act()
        for s, (planes, n, stride) in enumerate(((128, 3, 1), (256, 3, 2), (512, 2, 2))):
            planes = scaled(planes, width)
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(c, planes, stride if i == 0 else 1, act))
                c = planes
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.fc1 = nn.Linear(c, scaled(256, width))
        self.fc1_sn = act()
        self.fc2 = nn.Linear(scaled(256, width), classes)
        for m in self.modules():  # sakd: kaiming (fan_out) convs, BN 1/0, torch-default linears
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        """x [B, C, H, W] -> logits [B, classes], stage features (the blocks' output spikes or
        ReLUs, SNN: time-major [T·B, C, H, W]) for the stage_after_spike taps."""
        x = self.bn1(self.conv1(x))
        if self.snn:
            x = x.repeat(self.T, 1, 1, 1)  # row t·B + b is sample b at step t
        x = self.sn1(x)
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3):
            x = layer(x)
            feats.append(x)
        x = self.fc1_sn(self.fc1(x.mean(dim=(2, 3))))
        if self.snn:
            x = x.reshape(self.T, -1, x.shape[1]).mean(0)
        return self.fc2(x), feats


class Proj(nn.Module):
    """The proj transform of one tap: conv1x1 (C→C, no bias)–BN–ReLU (distill.proj.K.*)."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 1, bias=False)
        self.bn = nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def logit_kd(s_logits, t_logits, tau):
    """τ²·(1/B)·Σ_b Σ_i p_t(i)·(log p_t(i) − log p_s(i)), p = softmax(z/τ)."""
    lt = F.log_softmax(t_logits / tau, dim=1)
    ls = F.log_softmax(s_logits / tau, dim=1)
    return tau * tau * (lt.exp() * (lt - ls)).sum(1).mean()


class Step:
    """One training step of a mode: forward (teacher under no_grad in eval mode), CE + logit KD
    + feature KD (proj, l2, mean over T of the student taps), backward, SGD."""

    def __init__(self, a):
        self.a = a
        snn = a.mode != "ann"
        self.student = ResNet19(a.channels, a.classes, a.width, snn, a.T, a.decay, a.threshold,
                                a.lif)
        params = list(self.student.parameters())
        self.teacher = None
        self.proj = None
        if a.mode == "sakd":
            self.teacher = ResNet19(a.channels, a.classes, a.width, False).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
            # One proj head per stage tap; their channels are the stages' widths.
            chans = [scaled(c, a.width) for c in (128, 256, 512)]
            self.proj = nn.ModuleList(Proj(c) for c in chans)
            params += list(self.proj.parameters())
        self.alpha = a.alpha if self.teacher is not None else 1.0  # no teacher: CE alone
        self.opt = torch.optim.SGD(params, lr=a.lr, momentum=0.9, nesterov=True,
                                   weight_decay=5e-4)
        self.terms = {}

    def loss(self, x, y, clock=None):
        a = self.a
        tick = clock or (lambda name: None)
        if self.teacher is not None:
            with torch.no_grad():
                t_logits, t_feats = self.teacher(x)
            tick("teacher forward")
        s_logits, s_feats = self.student(x)
        tick("student forward")
        ce = F.cross_entropy(s_logits, y)
        total = self.alpha * ce
        self.terms = {"ce": ce}
        if self.teacher is not None:
            kd = logit_kd(s_logits, t_logits, a.tau)
            feat = 0.0
            B = x.shape[0]
            for k, (sf, tf) in enumerate(zip(s_feats, t_feats)):
                if self.student.snn:
                    sf = sf.reshape(self.student.T, B, *sf.shape[1:]).mean(0)  # firing rates
                feat = feat + F.mse_loss(self.proj[k](sf), tf)
            total = total + a.beta * feat + a.gamma * kd
            self.terms.update(logit=kd, feature=feat)
        self.terms["total"] = total
        tick("losses (+ proj heads)")
        return total, s_logits

    def __call__(self, x, y, clock=None):
        tick = clock or (lambda name: None)
        self.opt.zero_grad(set_to_none=True)
        total, logits = self.loss(x, y, clock)
        total.backward()
        tick("backward")
        self.opt.step()
        tick("optimizer")
        # sakd reads the loss terms and the logits back every step: a sync point in both.
        correct = int((logits.argmax(1) == y).sum())
        return float(total.detach()), correct


# ---- measurement ---------------------------------------------------------------------------

def rss_mib():
    """Current resident set size (Linux /proc/self/statm), MiB."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def peak_rss_mib():
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


CSV_FIELDS = ("tool", "torch", "host", "threads", "lif", "bench", "mode", "width", "T", "batch",
              "size", "n", "reps", "median_step_ms", "images_per_s", "forward_ms", "backward_ms",
              "peak_rss_mib", "peak_rss_delta_mib")


def append_csv(path, row):
    """One row under a fixed header (both benchmarks share the columns; unused ones empty)."""
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)


def common_row(a):
    return {"tool": "torch", "torch": torch.__version__, "host": platform.node(),
            "threads": torch.get_num_threads(), "lif": a.lif}


def run_step_bench(a):
    torch.manual_seed(a.seed)
    base = rss_mib()
    step = Step(a)
    x = torch.randn(a.batch, a.channels, a.size, a.size)
    y = torch.randint(0, a.classes, (a.batch,))
    before = rss_mib()
    for _ in range(a.warmup):
        step(x, y)
    times = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        loss, _ = step(x, y)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times) * 1e3
    peak = peak_rss_mib()
    parts = {}
    if a.breakdown:
        last = [time.perf_counter()]

        def clock(name):
            now = time.perf_counter()
            parts[name] = (now - last[0]) * 1e3
            last[0] = now
        step(x, y, clock)
    n_params = sum(p.numel() for p in step.opt.param_groups[0]["params"])
    print("# torch %s, %d threads, resnet19 %s width %g T %d batch %d %dx%dx%d, lif %s, "
          "%d params trained, %d warm-up + %d timed steps"
          % (torch.__version__, torch.get_num_threads(), a.mode, a.width,
             a.T if a.mode != "ann" else 1, a.batch, a.channels, a.size, a.size, a.lif,
             n_params, a.warmup, a.reps))
    print("# step ms: " + " ".join("%.1f" % (t * 1e3) for t in times) + "   last loss %.4g" % loss)
    if parts:
        print("# one more step by phase (ms): " +
              ", ".join("%s %.1f" % (k, v) for k, v in parts.items()))
    print("median_step_ms %.3f" % med)
    print("images_per_s %.1f" % (a.batch * 1e3 / med))
    print("peak_rss_mib %.1f" % peak)
    print("peak_rss_delta_mib %.1f   # over the RSS once the model and batch exist (%.1f MiB; "
          "%.1f MiB before the model)" % (peak - before, before, base))
    if a.csv:
        row = common_row(a)
        row.update({"bench": "step", "mode": a.mode, "width": a.width, "T": a.T, "batch": a.batch,
                    "size": a.size, "reps": a.reps, "median_step_ms": round(med, 3),
                    "images_per_s": round(a.batch * 1e3 / med, 2),
                    "peak_rss_mib": round(peak, 1), "peak_rss_delta_mib": round(peak - before, 1)})
        append_csv(a.csv, row)


def run_lif_layer(a):
    """Open Neuromorphic SNN-library benchmark: input [T, B, n] -> Linear(n, n) -> LIF over T,
    forward, then backward of the sum of the spikes (weight and bias gradients)."""
    n, T, B = a.lif_layer, a.lif_T, a.lif_batch
    torch.manual_seed(a.seed)
    lin = nn.Linear(n, n)
    x = torch.rand(T * B, n)  # time-major rows, t·B + b
    before = rss_mib()
    fwd, bwd = [], []
    for r in range(a.warmup + a.reps):
        lin.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        cur = lin(x)
        s = LIFFused.apply(cur, T, a.decay, a.threshold) if a.lif == "fused" else \
            lif_autograd(cur, T, a.decay, a.threshold)
        t1 = time.perf_counter()
        s.sum().backward()
        t2 = time.perf_counter()
        if r >= a.warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
        del cur, s
    f, b = statistics.median(fwd) * 1e3, statistics.median(bwd) * 1e3
    peak = peak_rss_mib()
    print("# torch %s, %d threads: Linear(%d, %d) + LIF (%s), T %d, batch %d, %d warm-up + %d "
          "timed" % (torch.__version__, torch.get_num_threads(), n, n, a.lif, T, B, a.warmup,
                     a.reps))
    print("forward_ms %.3f" % f)
    print("backward_ms %.3f" % b)
    print("median_step_ms %.3f" % (f + b))
    print("peak_rss_mib %.1f" % peak)
    print("peak_rss_delta_mib %.1f" % (peak - before))
    if a.csv:
        row = common_row(a)
        row.update({"bench": "lif-layer", "n": n, "T": T, "batch": B, "reps": a.reps,
                    "forward_ms": round(f, 3), "backward_ms": round(b, 3),
                    "median_step_ms": round(f + b, 3), "peak_rss_mib": round(peak, 1),
                    "peak_rss_delta_mib": round(peak - before, 1)})
        append_csv(a.csv, row)


# ---- checks against DESIGN.md ----------------------------------------------------------------

def lif_reference(x, gs, T, lam, vth):
    """DESIGN.md §2.1 in plain Python floats, one neuron: spikes and d(Σ gs·s)/dx."""
    v, h, s = 0.0, [], []
    for t in range(T):
        ht = lam * v + x[t]
        st = 1.0 if ht - vth >= 0.0 else 0.0
        v = ht * (1.0 - st)
        h.append(ht)
        s.append(st)
    gx, gh_next = [0.0] * T, 0.0
    for t in range(T - 1, -1, -1):
        g = max(0.0, 1.0 - abs(h[t] - vth))
        gv = lam * gh_next
        dvdh = (1.0 - s[t]) - h[t] * g
        gx[t] = gs[t] * g + gv * dvdh
        gh_next = gx[t]
    return s, gx


def run_check(a):
    ok = True

    def report(name, err, tol):
        nonlocal ok
        good = err <= tol
        ok &= good
        print("%-58s max |diff| %.3g  (tol %.1g)  %s" % (name, err, tol, "ok" if good else "FAIL"))

    # A hand-made sequence: sub-threshold build-up, exactly V_th (fires: >=), far above,
    # negative input, and values inside the surrogate's support at every step.
    x = [0.6, 0.7, 1.0, 0.2, 3.0, -0.5, 0.9, 0.45]
    gs = [1.0, -0.5, 0.25, 2.0, 1.0, 0.5, -1.0, 0.75]
    T, lam, vth = len(x), 0.5, 1.0
    s_ref, gx_ref = lif_reference(x, gs, T, lam, vth)
    print("hand-made sequence x  =", x)
    print("  DESIGN.md spikes    =", s_ref)
    print("  DESIGN.md d/dx      =", ["%.6g" % g for g in gx_ref])
    for impl in ("autograd", "fused"):
        xt = torch.tensor(x, dtype=torch.float64).reshape(T, 1).requires_grad_(True)
        s = (LIFFused.apply(xt, T, lam, vth) if impl == "fused"
             else lif_autograd(xt, T, lam, vth))
        s.backward(torch.tensor(gs, dtype=torch.float64).reshape(T, 1))
        report("LIF %s: spikes vs DESIGN.md" % impl,
               max(abs(p - q) for p, q in zip(s.flatten().tolist(), s_ref)), 0.0)
        report("LIF %s: BPTT gradient vs DESIGN.md" % impl,
               max(abs(p - q) for p, q in zip(xt.grad.flatten().tolist(), gx_ref)), 1e-12)
    # Random currents, many neurons: both implementations against the reference per neuron.
    torch.manual_seed(0)
    T, N = 6, 64
    xr = (torch.randn(T, N, dtype=torch.float64) * 1.2 + 0.5)
    gr = torch.randn(T, N, dtype=torch.float64)
    ref_s = torch.zeros(T, N, dtype=torch.float64)
    ref_g = torch.zeros(T, N, dtype=torch.float64)
    for i in range(N):
        si, gi = lif_reference(xr[:, i].tolist(), gr[:, i].tolist(), T, lam, vth)
        ref_s[:, i] = torch.tensor(si, dtype=torch.float64)
        ref_g[:, i] = torch.tensor(gi, dtype=torch.float64)
    for impl in ("autograd", "fused"):
        xt = xr.clone().requires_grad_(True)
        s = LIFFused.apply(xt, T, lam, vth) if impl == "fused" else lif_autograd(xt, T, lam, vth)
        s.backward(gr)
        report("LIF %s: random [T=6, 64], spikes" % impl, (s - ref_s).abs().max().item(), 0.0)
        report("LIF %s: random [T=6, 64], gradient" % impl,
               (xt.grad - ref_g).abs().max().item(), 1e-12)
    # Logit KD against its formula written with explicit sums.
    zs, zt = torch.randn(5, 10, dtype=torch.float64), torch.randn(5, 10, dtype=torch.float64)
    tau = 20.0
    ref = 0.0
    for b in range(5):
        pt = [math.exp(v / tau) for v in zt[b].tolist()]
        ps = [math.exp(v / tau) for v in zs[b].tolist()]
        st, ss = sum(pt), sum(ps)
        ref += sum((p / st) * (math.log(p / st) - math.log(q / ss)) for p, q in zip(pt, ps))
    ref *= tau * tau / 5
    report("logit KD vs tau^2/B sum p_t (log p_t - log p_s)",
           abs(logit_kd(zs, zt, tau).item() - ref), 1e-12)
    # Network shape: the taps and parameter count at width 0.25 (what model.c builds).
    net = ResNet19(1, 10, 0.25, True, 4)
    logits, feats = net(torch.randn(3, 1, 28, 28))
    shapes = [tuple(f.shape) for f in feats]
    want = [(12, 32, 28, 28), (12, 64, 14, 14), (12, 128, 7, 7)]
    good = tuple(logits.shape) == (3, 10) and shapes == want
    ok &= good
    print("resnet19 w0.25 T4 B3: logits %s, taps %s  %s"
          % (tuple(logits.shape), shapes, "ok" if good else "FAIL (want %s)" % want))
    print("all checks passed" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


def main():
    torch.set_num_threads(args.threads)
    if args.check:
        return run_check(args)
    if args.lif_layer:
        run_lif_layer(args)
    else:
        run_step_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
