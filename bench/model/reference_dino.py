"""The per-module speed reference for bench/model/modules.ts: a PyTorch DINO-4scale (R50) in float32.

Written to detrex's DINO semantics (detectron2 ResNet-50 with FrozenBN and the stride on the
3x3, ChannelMapper + GroupNorm, sine encodings, post-norm deformable encoder with the
grid_sample MSDA that detrex runs on CPU, two-stage top-k, decoder with nn.MultiheadAttention
self-attention, look-forward-twice, unshared heads, top-K post-processing), on a state dict with
detrex's keys. The numerics are the ones test/fixtures/dino-parity/make_dino_parity.py checks
against the C++ model in float64; this file is the same forward in float32, timed per stage.

  python3 bench/model/reference_dino.py --make-weights W.pth          # seeded weights (detrex keys)
  python3 bench/model/reference_dino.py --serve W.pth --threads 2      # timing server (stdin/stdout)

The server reads one line per run ("run H W") and answers one JSON line with the stage times in
milliseconds; the driver interleaves these runs with its own.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

# The dtype-agnostic pieces are the parity fixture's own (one reference of each): weights come
# from this file's Weights, so they run in float32 here.
_FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures')
sys.path.insert(0, os.path.join(_FIXTURES, 'dino-parity'))
sys.path.insert(0, os.path.join(_FIXTURES, 'msda'))
from make_dino_parity import conv, inverse_sigmoid, layer_norm, linear, mlp  # noqa: E402
from make_msda_fixtures import msda_grid_sample  # noqa: E402  (detrex's multi_scale_deformable_attn_pytorch)

CFG = dict(C=80, W0=64, D=256, M=8, P=4, L=4, ENC=6, DEC=6, FFN=2048, Q=900, G=32, TOPK=300)
BLOCKS = [3, 4, 6, 3]


class Weights:
    """A state dict; in making mode a missing key gets a seeded random value when first read."""

    def __init__(self, tensors=None, seed=0):
        self.t = dict(tensors or {})
        self.making = tensors is None
        self.gen = torch.Generator().manual_seed(seed)

    def get(self, key, make):
        if key not in self.t:
            assert self.making, f'missing weight {key}'
            self.t[key] = make().float()
        return self.t[key]

    def randn(self, *shape, std=1.0):
        return torch.randn(*shape, generator=self.gen) * std

    def uniform(self, *shape, lo, hi):
        return torch.rand(*shape, generator=self.gen) * (hi - lo) + lo


def frozen_bn(w, key, x):
    """detectron2 FrozenBatchNorm2d (scale and shift recomputed each call, as there)."""
    if f'{key}.running_var' not in w.t:
        ch = x.shape[1]
        gain = (0.1, 0.3) if key.endswith('conv3.norm') else (0.5, 1.5)
        w.t[f'{key}.weight'] = w.uniform(ch, lo=gain[0], hi=gain[1])
        w.t[f'{key}.bias'] = w.randn(ch, std=0.2)
        w.t[f'{key}.running_mean'] = x.mean((0, 2, 3))
        w.t[f'{key}.running_var'] = x.var((0, 2, 3)) + 1e-3
    scale = w.t[f'{key}.weight'] * torch.rsqrt(w.t[f'{key}.running_var'] + 1e-5)
    shift = w.t[f'{key}.bias'] - w.t[f'{key}.running_mean'] * scale
    return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


def conv_bn(w, key, x, cout, k, stride=1, pad=0):
    return frozen_bn(w, f'{key}.norm', conv(w, key, x, cout, k, stride, pad))


def resnet50(w, x):
    x = F.relu(conv_bn(w, 'backbone.stem.conv1', x, CFG['W0'], 7, 2, 3))
    x = F.max_pool2d(x, 3, 2, 1)
    outs = []
    for s, n in enumerate(BLOCKS):
        mid = CFG['W0'] << s
        out = mid * 4
        for b in range(n):
            stride = 2 if (b == 0 and s > 0) else 1
            pre = f'backbone.res{s + 2}.{b}'
            y = F.relu(conv_bn(w, f'{pre}.conv1', x, mid, 1))
            y = F.relu(conv_bn(w, f'{pre}.conv2', y, mid, 3, stride, 1))
            y = conv_bn(w, f'{pre}.conv3', y, out, 1)
            short = conv_bn(w, f'{pre}.shortcut', x, out, 1, stride) if b == 0 else x
            x = F.relu(y + short)
        if s >= 1:
            outs.append(x)
    return outs


def group_norm(w, key, x):
    weight = w.get(f'{key}.weight', lambda: w.uniform(x.shape[1], lo=0.5, hi=1.5))
    bias = w.get(f'{key}.bias', lambda: w.randn(x.shape[1], std=0.2))
    return F.group_norm(x, CFG['G'], weight, bias, 1e-5)


def neck(w, feats):
    D = CFG['D']
    outs = [group_norm(w, f'neck.convs.{i}.norm', conv(w, f'neck.convs.{i}.conv', f, D, 1, bias=True))
            for i, f in enumerate(feats)]
    outs.append(group_norm(w, 'neck.extra_convs.0.norm', conv(w, 'neck.extra_convs.0.conv', feats[-1], D, 3, 2, 1, bias=True)))
    return outs


def sine_map(mask, feats):
    notm = (~mask).float()
    y, x = notm.cumsum(1), notm.cumsum(2)
    y = (y - 0.5) / (y[:, -1:, :] + 1e-6) * (2 * math.pi)
    x = (x - 0.5) / (x[:, :, -1:] + 1e-6) * (2 * math.pi)
    dim_t = 10000 ** (2 * (torch.arange(feats, dtype=torch.float32) // 2) / feats)
    px, py = x[..., None] / dim_t, y[..., None] / dim_t
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=4).flatten(3)
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=4).flatten(3)
    return torch.cat((py, px), dim=3).permute(0, 3, 1, 2)


def sine_boxes(boxes, feats):
    dim_t = 10000 ** (2 * (torch.arange(feats, dtype=torch.float32) // 2) / feats)

    def enc(c):
        e = c[..., None] * 2 * math.pi / dim_t
        return torch.stack((e[..., 0::2].sin(), e[..., 1::2].cos()), dim=-1).flatten(-2)

    parts = [enc(boxes[..., i]) for i in range(4)]
    parts[0], parts[1] = parts[1], parts[0]
    return torch.cat(parts, dim=-1)


def msda(w, key, query, pos, value, mask, shapes, ref):
    D, M, L, P = CFG['D'], CFG['M'], CFG['L'], CFG['P']
    b, lq, _ = query.shape
    q = query + pos
    v = linear(w, f'{key}.value_proj', value, D).masked_fill(mask[..., None], 0.0).view(b, -1, M, D // M)
    off = linear(w, f'{key}.sampling_offsets', q, M * L * P * 2, std=0.5 / math.sqrt(D), bias_std=1.0).view(b, lq, M, L, P, 2)
    a = linear(w, f'{key}.attention_weights', q, M * L * P, bias_std=0.5).view(b, lq, M, L * P).softmax(-1).view(b, lq, M, L, P)
    if ref.shape[-1] == 2:
        norm = torch.tensor([[w_, h] for h, w_ in shapes], dtype=torch.float32)
        loc = ref[:, :, None, :, None, :] + off / norm[None, None, None, :, None, :]
    else:
        loc = ref[:, :, None, :, None, :2] + off / P * ref[:, :, None, :, None, 2:] * 0.5
    return query + linear(w, f'{key}.output_proj', msda_grid_sample(v, shapes, loc, a), D)


def ffn(w, key, x):
    return x + linear(w, f'{key}.layers.1', F.relu(linear(w, f'{key}.layers.0.0', x, CFG['FFN'])), CFG['D'])


def self_attention(w, key, x, pos):
    """nn.MultiheadAttention's functional form (detrex: q = k = x + pos, v = x)."""
    D = CFG['D']
    wi = w.get(f'{key}.in_proj_weight', lambda: w.randn(3 * D, D, std=1.0 / math.sqrt(D)))
    bi = w.get(f'{key}.in_proj_bias', lambda: w.randn(3 * D, std=0.1))
    wo = w.get(f'{key}.out_proj.weight', lambda: w.randn(D, D, std=1.0 / math.sqrt(D)))
    bo = w.get(f'{key}.out_proj.bias', lambda: w.randn(D, std=0.1))
    qk = (x + pos).transpose(0, 1)
    out, _ = F.multi_head_attention_forward(qk, qk, x.transpose(0, 1), D, CFG['M'], wi, bi, None, None, False, 0.0,
                                            wo, bo, training=False, need_weights=False)
    return x + out.transpose(0, 1)


def forward(w, images, sizes, marks):
    """images [B, 3, H, W] normalised, zero-padded; sizes [(h, w)]. `marks(name)` closes a stage."""
    C, D, L, Q, ENC, DEC = (CFG[k] for k in ('C', 'D', 'L', 'Q', 'ENC', 'DEC'))
    b = images.shape[0]
    img_mask = torch.ones(b, images.shape[2], images.shape[3], dtype=torch.bool)
    for i, (h, w_) in enumerate(sizes):
        img_mask[i, :h, :w_] = False
    feats = resnet50(w, images)
    marks('backbone')
    levels = neck(w, feats)
    marks('neck')

    srcs, masks, poses, shapes, ratios = [], [], [], [], []
    level_embeds = w.get('transformer.level_embeds', lambda: w.randn(L, D))
    for lvl, f in enumerate(levels):
        h, w_ = f.shape[2:]
        m = F.interpolate(img_mask[None].float(), size=(h, w_))[0].bool()
        srcs.append(f.flatten(2).transpose(1, 2))
        masks.append(m.flatten(1))
        poses.append(sine_map(m, D // 2).flatten(2).transpose(1, 2) + level_embeds[lvl].view(1, 1, -1))
        shapes.append((h, w_))
        ratios.append(torch.stack([(~m[:, 0, :]).sum(1) / w_, (~m[:, :, 0]).sum(1) / h], -1).float())
    src, mask, pos = torch.cat(srcs, 1), torch.cat(masks, 1), torch.cat(poses, 1)
    vr = torch.stack(ratios, 1)
    refs = []
    for lvl, (h, w_) in enumerate(shapes):
        ry, rx = torch.meshgrid(torch.linspace(0.5, h - 0.5, h), torch.linspace(0.5, w_ - 0.5, w_), indexing='ij')
        refs.append(torch.stack((rx.reshape(-1)[None] / (vr[:, None, lvl, 0] * w_), ry.reshape(-1)[None] / (vr[:, None, lvl, 1] * h)), -1))
    enc_ref = torch.cat(refs, 1)[:, :, None] * vr[:, None]
    x = src
    for i in range(ENC):
        pre = f'transformer.encoder.layers.{i}'
        x = layer_norm(w, f'{pre}.norms.0', msda(w, f'{pre}.attentions.0', x, pos, x, mask, shapes, enc_ref))
        x = layer_norm(w, f'{pre}.norms.1', ffn(w, f'{pre}.ffns.0', x))
    memory = x
    props, start = [], 0
    for lvl, (h, w_) in enumerate(shapes):
        m = mask[:, start:start + h * w_].view(b, h, w_)
        vh, vw = (~m[:, :, 0]).sum(1).float(), (~m[:, 0, :]).sum(1).float()
        gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w_, dtype=torch.float32), indexing='ij')
        centre = (torch.stack([gx, gy], -1)[None] + 0.5) / torch.stack([vw, vh], -1).view(b, 1, 1, 2)
        props.append(torch.cat([centre, torch.ones_like(centre) * 0.05 * (2.0 ** lvl)], -1).view(b, -1, 4))
        start += h * w_
    props = torch.cat(props, 1)
    valid = ((props > 0.01) & (props < 0.99)).all(-1, keepdim=True)
    unact = torch.log(props / (1 - props)).masked_fill(mask[..., None], float('inf')).masked_fill(~valid, float('inf'))
    out_mem = memory.masked_fill(mask[..., None], 0.0).masked_fill(~valid, 0.0)
    out_mem = layer_norm(w, 'transformer.enc_output_norm', linear(w, 'transformer.enc_output', out_mem, D))
    enc_logits = linear(w, f'class_embed.{DEC}', out_mem, C, bias_std=0.5)
    enc_coord = mlp(w, f'bbox_embed.{DEC}', out_mem, [D, D, 4]) + unact
    topk = torch.topk(enc_logits.max(-1)[0], Q, dim=1)[1]
    ref = torch.gather(enc_coord, 1, topk[..., None].expand(-1, -1, 4)).sigmoid()
    x = w.get('transformer.tgt_embed.weight', lambda: w.randn(Q, D))[None].expand(b, -1, -1)
    marks('encoder')

    ref_before = ref
    vr4 = torch.cat([vr, vr], -1)
    for i in range(DEC):
        pre = f'transformer.decoder.layers.{i}'
        ref_in = ref[:, :, None] * vr4[:, None]
        qpos = mlp(w, 'transformer.decoder.ref_point_head', sine_boxes(ref_in[:, :, 0], D // 2), [D, D])
        x = layer_norm(w, f'{pre}.norms.0', self_attention(w, f'{pre}.attentions.0.attn', x, qpos))
        x = layer_norm(w, f'{pre}.norms.1', msda(w, f'{pre}.attentions.1', x, qpos, memory, mask, shapes, ref_in))
        x = layer_norm(w, f'{pre}.norms.2', ffn(w, f'{pre}.ffns.0', x))
        new_ref = (mlp(w, f'bbox_embed.{i}', x, [D, D, 4]) + inverse_sigmoid(ref)).sigmoid()
        state = layer_norm(w, 'transformer.decoder.norm', x)
        logits = linear(w, f'class_embed.{i}', state, C, bias_std=0.5)
        boxes = (mlp(w, f'bbox_embed.{i}', state, [D, D, 4]) + inverse_sigmoid(ref_before)).sigmoid()
        ref_before, ref = new_ref, new_ref.detach()
    w.get('label_enc.weight', lambda: w.randn(C, D))
    marks('decoder')

    # detrex DINO.inference: sigmoid, top-K over queries x classes, cxcywh -> xyxy, scaled.
    prob = logits.sigmoid()
    scores, idx = torch.topk(prob.view(b, -1), CFG['TOPK'], dim=1)
    labels = idx % C
    chosen = torch.gather(boxes, 1, (idx // C)[..., None].expand(-1, -1, 4))
    cx, cy, bw, bh = chosen.unbind(-1)
    xyxy = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)
    scale = torch.tensor([[w_, h, w_, h] for h, w_ in sizes], dtype=torch.float32)[:, None]
    result = (xyxy * scale, scores, labels)
    marks('postprocess')
    return result


def batch(h, w_):
    """The driver's synthetic normalised image, the same formula as bench/model/modules.ts."""
    i = torch.arange(3 * h * w_, dtype=torch.float64)
    return (torch.sin(i * 0.37) * 1.5).float().view(1, 3, h, w_)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--make-weights')
    ap.add_argument('--serve')
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.make_weights:
        w = Weights(seed=20261202)
        with torch.inference_mode():
            forward(w, batch(320, 512), [(320, 512)], lambda name: None)
        torch.save(w.t, args.make_weights)
        print(json.dumps({'keys': len(w.t)}))
        return
    w = Weights(torch.load(args.serve))
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] != 'run':
            break
        h, w_ = int(parts[1]), int(parts[2])
        images = batch(h, w_)
        times = {}
        last = [time.perf_counter()]

        def marks(name):
            now = time.perf_counter()
            times[name + 'Ms'] = (now - last[0]) * 1000.0
            last[0] = now

        with torch.inference_mode():
            forward(w, images, [(h, w_)], marks)
        print(json.dumps(times), flush=True)


if __name__ == '__main__':
    main()
