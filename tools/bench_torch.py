#!/usr/bin/env python3
"""PyTorch CPU side of `tessera bench`: times the same cases Tessera times, in the same run.

usage: bench_torch.py FAMILY [--threads N] [--iters N] --case ID=SPEC [--case ID=SPEC ...]
       bench_torch.py train [--threads N] [--iters N] [--res R] [--batch N] [--config JSON]
       bench_torch.py sample [--threads N] [--iters N] [--gen-iters N] [--res R1,R2] [--steps S]
                             [--guidance W] [--config JSON]     (see sample_main)

A SPEC is "pass,key=value,..." as written by cli/bench.cpp, e.g.
  conv:  fwd,N=8,Ci=64,Co=64,H=64,W=64,k=3,s=1,pad=zeros   (pass: fwd | bwd_data | bwd_weight)
  gemm:  mm,M=256,N=256,K=32,batch=32,ta=1,tb=0            (C = op(A) op(B); A stored [K,M] if ta)
Every mode takes --device cpu|cuda (default: $TESSERA_TORCH_DEVICE, else cpu): on cuda the
tensors and the model live on the GPU, every timing synchronises the device first, and the
header says which GPU (tools/gpu/check.sh sets the variable when torch sees one).
Prints one line per case, "RESULT <id> <median_ms> <min_ms>", after a header line
"TORCH <version> <threads>", or a single "TORCH_UNAVAILABLE <reason>" line (exit code 0,
so the caller can still print its own numbers). New families (e.g. gemm) add a builder to
BUILDERS: a function from (pass, params) to a zero-argument callable that runs the op once.
"""
import argparse
import os
import statistics
import sys
import time


def parse_spec(spec):
    fields = spec.split(",")
    params = {}
    for kv in fields[1:]:
        key, value = kv.split("=", 1)
        params[key] = value
    return fields[0], params


def conv_builder(torch, pass_name, p):
    n, ci, co = int(p["N"]), int(p["Ci"]), int(p["Co"])
    h, w, k, s = int(p["H"]), int(p["W"]), int(p["k"]), int(p["s"])
    pad = k // 2
    circular = p.get("pad", "zeros") == "circular"
    x = torch.randn(n, ci, h, w)
    weight = torch.randn(co, ci, k, k) * 0.1
    F = torch.nn.functional

    def padded(t):
        return F.pad(t, (pad, pad, pad, pad), mode="circular") if circular and pad else t

    conv_pad = 0 if circular else pad
    y = F.conv2d(padded(x), weight, stride=s, padding=conv_pad)
    dy = torch.randn_like(y)
    if pass_name == "fwd":
        return lambda: F.conv2d(padded(x), weight, stride=s, padding=conv_pad)
    if pass_name == "bwd_data":
        if circular:  # gradient through the circular pad as well: autograd
            xg = x.clone().requires_grad_(True)
            return lambda: torch.autograd.grad(F.conv2d(padded(xg), weight, stride=s), xg, dy)[0]
        return lambda: torch.nn.grad.conv2d_input(x.shape, weight, dy, stride=s, padding=pad)
    if pass_name == "bwd_weight":
        xp = padded(x)
        return lambda: torch.nn.grad.conv2d_weight(xp, weight.shape, dy, stride=s, padding=conv_pad)
    raise ValueError("unknown conv pass " + pass_name)


def gemm_builder(torch, pass_name, p):
    if pass_name != "mm":
        raise ValueError("unknown gemm pass " + pass_name)
    m, n, k, batch = int(p["M"]), int(p["N"]), int(p["K"]), int(p["batch"])
    ta, tb = p.get("ta", "0") == "1", p.get("tb", "0") == "1"
    # The same stored layouts as Tessera: a transposed operand is stored the other way round
    # and handed to torch.matmul as a transposed view (no copy).
    a = torch.randn(batch, k, m).transpose(1, 2) if ta else torch.randn(batch, m, k)
    b = torch.randn(batch, n, k).transpose(1, 2) if tb else torch.randn(batch, k, n)
    out = torch.empty(batch, m, n)
    if batch == 1:
        a, b, out = a[0], b[0], out[0]
    return lambda: torch.matmul(a, b, out=out)


BUILDERS = {"conv": conv_builder, "gemm": gemm_builder}


DEVICE = "cpu"  # set by start_torch from --device


def synchronize():
    """Waits for queued GPU work, so that a wall-clock interval covers the kernels it launched."""
    if DEVICE == "cuda":
        import torch
        torch.cuda.synchronize()


def time_op(fn, iters):
    fn()  # warm-up (oneDNN primitive creation, cuDNN autotuning)
    synchronize()
    reps = 1
    start = time.perf_counter()
    fn()
    synchronize()
    once = time.perf_counter() - start
    if once < 0.05:
        reps = max(1, min(50, int(0.05 / max(once, 1e-6))))
    samples = []
    for _ in range(iters):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        synchronize()
        samples.append((time.perf_counter() - start) / reps * 1e3)
    return statistics.median(samples), min(samples)


def add_device_argument(ap, model=False):
    ap.add_argument("--device", choices=["cpu", "cuda"], default=os.environ.get("TESSERA_TORCH_DEVICE", "cpu"))
    if model:
        ap.add_argument("--compile", action="store_true", help="time torch.compile(model) instead of eager")


def maybe_compile(torch, model, args):
    return torch.compile(model) if args.compile else model


def start_torch(threads, device="cpu"):
    """Imports torch, sets the thread count, seed and default device and prints the
    "TORCH <version> <threads> <device>" header; tools/reference becomes importable. None (after
    "TORCH_UNAVAILABLE <reason>") when torch cannot be imported or has no such device: the
    caller exits 0 so tessera still prints its own numbers."""
    global DEVICE
    try:
        import torch
    except Exception as e:  # noqa: BLE001 - any import failure means "no torch"
        print("TORCH_UNAVAILABLE", str(e).replace("\n", " "))
        return None
    if device == "cuda" and not torch.cuda.is_available():
        print("TORCH_UNAVAILABLE", f"torch {torch.__version__} sees no CUDA device")
        return None
    DEVICE = device
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    name = "cpu"
    if device == "cuda":
        # New tensors and modules (the reference U-Net included) are created on the GPU.
        torch.set_default_device("cuda")
        name = "cuda:" + torch.cuda.get_device_name(0).replace(" ", "_")
    print("TORCH", torch.__version__, torch.get_num_threads(), name, flush=True)
    return torch


def train_main(argv):
    """One training step of tools/reference/unet.py: noising, forward, MSE, backward, AdamW."""
    import json
    ap = argparse.ArgumentParser(prog="bench_torch.py train")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--res", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--config", default="{}")
    add_device_argument(ap, model=True)
    args = ap.parse_args(argv)
    torch = start_torch(args.threads, args.device)
    if torch is None:
        return 0
    import unet
    eager = unet.UNet(json.loads(args.config))
    opt = torch.optim.AdamW(eager.parameters(), lr=2e-4)
    model = maybe_compile(torch, eager, args)
    c = eager.config
    x0 = torch.rand(args.batch, c["in_channels"], args.res, args.res) * 2 - 1
    labels = torch.arange(args.batch) % max(1, c["num_classes"]) if c["num_classes"] else None

    def step():
        t = torch.randint(0, c["timesteps"], (args.batch,))
        eps = torch.randn_like(x0)
        xt = 0.5 * x0 + 0.8 * eps
        loss = torch.nn.functional.mse_loss(model(xt, t.float(), labels), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(eager.parameters(), 1.0)
        opt.step()

    median_ms, min_ms = time_op(step, max(1, args.iters))
    print("RESULT train", f"{median_ms:.6f}", f"{min_ms:.6f}", flush=True)
    return 0


def sample_main(argv):
    """Generation latency of tools/reference/unet.py at batch 1, beside `tessera bench sample`:
    one DPM-Solver++(2M) step from the middle of a generation (U-Net forward - conditional and
    null passes as one batch of 2 when guided - plus the update of tools/reference/samplers.py)
    and a whole STEPS-step generation, per resolution. Float32, random weights (speed does not
    depend on their values). Prints RESULT step_<res> and RESULT gen_<res> (median, min ms)."""
    import json
    ap = argparse.ArgumentParser(prog="bench_torch.py sample")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5, help="timed single steps per resolution")
    ap.add_argument("--gen-iters", type=int, default=1, help="timed generations per resolution")
    ap.add_argument("--res", default="64,256", help="comma-separated sizes")
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--guidance", type=float, default=1.0)
    ap.add_argument("--config", default="{}")
    add_device_argument(ap, model=True)
    args = ap.parse_args(argv)
    torch = start_torch(args.threads, args.device)
    if torch is None:
        return 0
    import samplers
    import unet
    eager = unet.UNet(json.loads(args.config)).eval()
    c = eager.config
    model = maybe_compile(torch, eager, args)
    sched = samplers.Schedule(c["schedule"], c["timesteps"])
    guided = c["num_classes"] > 0 and args.guidance != 1.0
    labels = None
    if c["num_classes"]:
        labels = torch.tensor([0, c["num_classes"]] if guided else [0])

    def denoise(x, t):
        xin = torch.cat([x, x]) if guided else x
        out = model(xin, torch.full((xin.shape[0],), float(t)), labels)
        return (out[:1], out[1:]) if guided else out

    ts = samplers.timesteps(c["timesteps"], args.steps)
    for res in [int(r) for r in args.res.split(",")]:
        shape = (1, c["out_channels"], res, res)
        x = torch.randn(shape)
        x0_last = torch.randn(shape).clamp(-1, 1)
        i = len(ts) // 2  # single steps from the middle of a generation, as tessera times them
        t, prev, last = samplers.step_times(ts, i)

        def one_step():
            out = denoise(x, t)
            cond, uncond = out if guided else (out, None)
            return samplers.step(x, cond, sched, "dpmpp2m", t, prev, last, x0_last, None,
                                 prediction=c["prediction"], clip=True, guidance=args.guidance, out_uncond=uncond)

        def generate():
            return samplers.sample(denoise, shape, sched, "dpmpp2m", args.steps, prediction=c["prediction"],
                                   guidance=args.guidance, guided=guided, dtype=torch.float32)

        with torch.no_grad():
            median_ms, min_ms = time_op(one_step, max(1, args.iters))
            print("RESULT", f"step_{res}", f"{median_ms:.6f}", f"{min_ms:.6f}", flush=True)
            gen = []
            for _ in range(max(1, args.gen_iters)):  # already warm from the steps
                start = time.perf_counter()
                generate()
                synchronize()
                gen.append((time.perf_counter() - start) * 1e3)
            print("RESULT", f"gen_{res}", f"{statistics.median(gen):.6f}", f"{min(gen):.6f}", flush=True)
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "train":
        return train_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "sample":
        return sample_main(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("family", choices=sorted(BUILDERS))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--case", action="append", default=[], help="ID=SPEC")
    add_device_argument(ap)
    args = ap.parse_args()
    torch = start_torch(args.threads, args.device)
    if torch is None:
        return 0
    for case in args.case:
        case_id, spec = case.split("=", 1)
        pass_name, params = parse_spec(spec)
        fn = BUILDERS[args.family](torch, pass_name, params)
        median_ms, min_ms = time_op(fn, max(1, args.iters))
        print("RESULT", case_id, f"{median_ms:.6f}", f"{min_ms:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
