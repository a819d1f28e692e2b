#!/usr/bin/env python3
"""PyTorch side of `dropbooth bench engine`: the same kernels, timed the same way.

Reads the case list (JSON, as `dropbooth bench engine --print-cases` prints it) on stdin and
prints one JSON object on stdout: {"version", "threads", "peak_rss_mib", "results": [{"name",
"pass", "gflop", "seconds"}]}. Each measurement is the best of --repeats runs after a warm-up,
like the Swift side.

With --serve it is the worker the Swift command drives, so that both sides measure each case
back to back (the machine's load drifts): it prints {"version", "threads"} once, then reads one
case per line and answers each with one line {"results": [...], "peak_rss_mib"}. Layouts are what diffusers uses on CPU: NCHW convolutions, attention on
[B, H, L, D] views of [B, L, H*D] projections. Backward passes run autograd from a fresh forward
each time; only the backward call is timed.

    dropbooth bench engine --print-cases | python3 scripts/bench/torch_engine.py --threads 2
"""
import argparse
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F


CLOCK = time.perf_counter


def best_time(fn, repeats, setup=None):
    def once():
        state = setup() if setup else None
        start = CLOCK()
        fn(state)
        return CLOCK() - start
    once()
    return min(once() for _ in range(max(1, repeats)))


def run_gemm(c, repeats, report):
    n = c["size"]
    a, b = torch.rand(n, n) * 2 - 1, torch.rand(n, n) * 2 - 1
    out = torch.empty(n, n)
    t = best_time(lambda _: torch.mm(a, b, out=out), repeats)
    report(c["name"], "fwd", 2 * n ** 3 / 1e9, t)


def run_conv(c, repeats, report):
    cin, cout, size, k = c["channelsIn"], c["channelsOut"], c["size"], c["kernel"]
    stride, padding = c["stride"], c["padding"]
    x = torch.rand(1, cin, size, size) * 2 - 1
    w = (torch.rand(cout, cin, k, k) * 2 - 1) / (cin * k * k) ** 0.5
    b = torch.rand(cout) * 2 - 1
    ho = (size + 2 * padding - k) // stride + 1
    gflop = 2 * ho * ho * cout * cin * k * k / 1e9
    with torch.no_grad():
        report(c["name"], "fwd", gflop, best_time(lambda _: F.conv2d(x, w, b, stride=stride, padding=padding), repeats))
    gy = torch.rand(1, cout, ho, ho) * 2 - 1

    def graph(weights_need_grad):
        xi = x.clone().requires_grad_()
        wi = w.clone().requires_grad_(weights_need_grad)
        bi = b.clone().requires_grad_(weights_need_grad)
        return F.conv2d(xi, wi, bi, stride=stride, padding=padding)

    report(c["name"], "bwd", 2 * gflop, best_time(lambda y: y.backward(gy), repeats, lambda: graph(True)))
    report(c["name"], "bwd input only", gflop, best_time(lambda y: y.backward(gy), repeats, lambda: graph(False)))


def run_attention(c, repeats, report):
    h, lq, lk, d = c["heads"], c["queryLength"], c["keyLength"], c["headDim"]
    q = torch.rand(1, lq, h * d) * 2 - 1
    k = torch.rand(1, lk, h * d) * 2 - 1
    v = torch.rand(1, lk, h * d) * 2 - 1
    gflop = 4 * h * lq * lk * d / 1e9

    def split(t):
        return t.view(1, t.shape[1], h, d).transpose(1, 2)

    def attend(qi, ki, vi):
        return F.scaled_dot_product_attention(split(qi), split(ki), split(vi)).transpose(1, 2).reshape(1, lq, h * d)

    with torch.no_grad():
        report(c["name"], "fwd", gflop, best_time(lambda _: attend(q, k, v), repeats))
    go = torch.rand(1, lq, h * d) * 2 - 1

    def graph():
        return attend(q.clone().requires_grad_(), k.clone().requires_grad_(), v.clone().requires_grad_())

    report(c["name"], "bwd", 2.5 * gflop, best_time(lambda o: o.backward(go), repeats, graph))


def run_pointwise(c, repeats, report):
    """The memory-bound ops; "gflop" carries gigabytes moved (the rate column reads GB/s)."""
    op, shape = c["op"], c["shape"]
    x = torch.rand(*shape) * 2 - 1
    channels = shape[-1]
    w, b = torch.rand(channels) * 2 - 1, torch.rand(channels) * 2 - 1
    nchw = op.startswith("groupnorm")
    if nchw:  # diffusers' layout: [N, C, H, W]
        x = x.transpose(1, 2).contiguous().view(shape[0], channels, 64, -1)

    def apply(t):
        if op == "silu":
            return F.silu(t)
        if op == "gelu":
            return F.gelu(t)
        if op == "geglu":
            a, gate = t.chunk(2, dim=-1)
            return a * F.gelu(gate)
        if op == "groupnorm":
            return F.group_norm(t, 32, w, b)
        if op == "groupnorm+silu":
            return F.silu(F.group_norm(t, 32, w, b))
        if op == "layernorm":
            return F.layer_norm(t, (channels,), w, b)
        if op == "softmax":
            return torch.softmax(t, dim=-1)
        if op == "add":
            return t + b
        raise ValueError(op)

    count = x.numel()
    out_count = count // 2 if op == "geglu" else count
    gb = 4 * (count + out_count) / 1e9
    with torch.no_grad():
        report(c["name"], "fwd", gb, best_time(lambda _: apply(x), repeats))
    gy = torch.rand(apply(x).shape) * 2 - 1
    report(c["name"], "bwd", 2 * gb,
           best_time(lambda y: y.backward(gy), repeats, lambda: apply(x.clone().requires_grad_())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help="answer one case per stdin line")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--cpu-time", action="store_true", help="time thread CPU time (with --threads 1)")
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.thread_time
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    runners = {"gemm": run_gemm, "conv": run_conv, "attention": run_attention, "pointwise": run_pointwise}

    def run(case):
        results = []

        def report(name, pass_, gflop, seconds):
            results.append({"name": name, "pass": pass_, "gflop": gflop, "seconds": seconds})
            if not args.quiet:
                print(f"  torch {name:24} {pass_:15} {seconds * 1e3:8.1f} ms  {gflop / seconds:7.1f} GFLOP/s",
                      file=sys.stderr, flush=True)

        (kind, params), = case.items()  # Swift encodes enum cases as {"kind": {fields}}
        runners[kind](params, args.repeats, report)
        return results

    if args.serve:
        print(json.dumps({"version": torch.__version__, "threads": args.threads}), flush=True)
        for line in sys.stdin:
            if line.strip():
                print(json.dumps({"results": run(json.loads(line)), "peak_rss_mib": peak_rss_mib()}), flush=True)
        return

    results = [r for case in json.load(sys.stdin) for r in run(case)]
    json.dump({"version": torch.__version__, "threads": args.threads, "peak_rss_mib": peak_rss_mib(),
               "results": results}, sys.stdout)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


if __name__ == "__main__":
    main()
