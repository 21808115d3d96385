"""Reference timing for bench_matcher: DINO's matcher pattern (docs/numerical-contract.md §C.1) in
PyTorch + scipy on the CPU, for one Align-DETR step: 7 outputs (k = 2 x6, then 1), B images,
Q = 900, C = 80, the [B*Q, sum G] focal + L1 + GIoU cost, then each image's block repeated k
times and solved with scipy.optimize.linear_sum_assignment.

Run with the reference venv (never a runtime dependency):
    /opt/refvenv/bin/python bench/matcher/scipy_time.py [--batch 2] [--threads 1] [--repeats 11]
"""
import argparse
import platform
import time

import numpy as np
import scipy
import torch
from scipy.optimize import linear_sum_assignment


def xyxy(b):
    return torch.cat([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], -1)


def giou(a, b):
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    wh = (torch.min(a[:, None, 2:], b[None, :, 2:]) - torch.max(a[:, None, :2], b[None, :, :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None] - inter
    cwh = (torch.max(a[:, None, 2:], b[None, :, 2:]) - torch.min(a[:, None, :2], b[None, :, :2])).clamp(min=0)
    area = cwh[..., 0] * cwh[..., 1]
    return inter / (union + 1e-6) - (area - union) / (area + 1e-6)


@torch.no_grad()
def step(layers, targets, ks):
    tgt_ids = torch.cat([t[0] for t in targets])
    tgt_boxes = torch.cat([t[1] for t in targets])
    sizes = [len(t[0]) for t in targets]
    total = 0.0
    for (logits, boxes), k in zip(layers, ks):
        bs, nq = logits.shape[:2]
        p = logits.flatten(0, 1).sigmoid()
        out_boxes = boxes.flatten(0, 1)
        neg = 0.75 * p ** 2 * (-(1 - p + 1e-8).log())
        pos = 0.25 * (1 - p) ** 2 * (-(p + 1e-8).log())
        c = 5 * torch.cdist(out_boxes, tgt_boxes, p=1) + 2 * (pos[:, tgt_ids] - neg[:, tgt_ids]) \
            - 2 * giou(xyxy(out_boxes), xyxy(tgt_boxes))
        c = c.view(bs, nq, -1).cpu()
        for i, block in enumerate(c.split(sizes, -1)):
            g = sizes[i]
            kb = max(1, min(k, nq // g))
            m = block[i].repeat(1, kb).numpy()
            r, col = linear_sum_assignment(m)
            total += float(m[r, col].sum())
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=11)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ks = [2, 2, 2, 2, 2, 2, 1]
    q, classes = 900, 80
    print(f"scipy reference: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"scipy {scipy.__version__}, threads {torch.get_num_threads()}")
    for g_img in (7, 20):
        torch.manual_seed(11)
        layers = []
        for _ in ks:
            cxcy = torch.rand(a.batch, q, 2) * 0.8 + 0.1
            wh = torch.rand(a.batch, q, 2) * 0.4 + 0.02
            layers.append((torch.randn(a.batch, q, classes) * 2 - 3, torch.cat([cxcy, wh], -1)))
        targets = []
        for b in range(a.batch):
            g = g_img + (0 if b % 2 == 0 else -1)
            cxcy = torch.rand(g, 2) * 0.8 + 0.1
            wh = torch.rand(g, 2) * 0.4 + 0.02
            targets.append((torch.randint(0, classes, (g,)), torch.cat([cxcy, wh], -1)))
        step(layers, targets, ks)
        times = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            step(layers, targets, ks)
            times.append((time.perf_counter() - t0) * 1e3)
        print(f"G ~ {g_img:2d}: PyTorch + scipy (DINO pattern) {np.median(times):8.3f} ms")


if __name__ == "__main__":
    main()
