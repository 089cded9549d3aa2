"""PyTorch reference of Tessera's DDPM/ADM U-Net (SPEC §3).

Same architecture, same tensor names and orderings as the Vulkan implementation and
docs/model-format.md, loading and writing the same safetensors files. Used by the tests
(whole-network forward/backward comparison), by tools/bench_torch.py, and by ML engineers
who train bigger models in PyTorch and export them to Tessera.

Run with Debian's /usr/bin/python3 (python3-torch).
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

FORMAT_VERSION = "1"

DEFAULT_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "base_channels": 64,
    "channel_mult": [1, 2, 2, 2],
    "num_res_blocks": 2,
    "attention_resolutions": [16],
    "num_heads": 4,
    "norm_groups": 32,
    "dropout": 0.0,
    "num_classes": 0,
    "padding": "zeros",
    "train_resolution": 64,
    "schedule": "linear",
    "timesteps": 1000,
    "prediction": "eps",
}

GROUPNORM_EPS = 1e-5

# The maps a model's channels can carry, in channel order, with their channel counts (SPEC §12;
# runtime/src/model/material_maps.cpp holds the same table).
MAP_CHANNELS = {"albedo": 3, "height": 1, "roughness": 1}


def full_config(config, require_all=False):
    """DEFAULT_CONFIG overridden by `config`. Unknown keys are errors (a misspelt key would
    otherwise be ignored); with require_all, as for a model file, so are missing ones, since every
    key changes what the weights compute (docs/model-format.md)."""
    config = dict(config or {})
    maps = config.pop("maps", ["albedo"])  # optional: a model without it is ["albedo"]
    order = list(MAP_CHANNELS)
    if (not isinstance(maps, list) or not maps or maps[0] != "albedo" or any(m not in MAP_CHANNELS for m in maps)
            or [order.index(m) for m in maps] != sorted({order.index(m) for m in maps})):
        raise ValueError(f"maps must be distinct names from {order} in that order, starting with albedo; got {maps!r}")
    channels = sum(MAP_CHANNELS[m] for m in maps)
    unknown = sorted(set(config) - set(DEFAULT_CONFIG))
    if unknown:
        raise ValueError(f"unknown config keys: {', '.join(unknown)}")
    missing = sorted(set(DEFAULT_CONFIG) - set(config))
    if require_all and missing:
        raise ValueError(f"model config is missing keys: {', '.join(missing)}")
    c = dict(DEFAULT_CONFIG, in_channels=channels, out_channels=channels)
    c.update(config)
    if c["in_channels"] != channels or c["out_channels"] != channels:
        raise ValueError(f"in_channels and out_channels must both be {channels}, the channels of maps {maps}")
    if maps != ["albedo"]:
        c["maps"] = maps  # written to the file only when it is not the default, as Tessera does
    if c["padding"] not in ("zeros", "circular"):
        raise ValueError(f"padding must be 'zeros' or 'circular', got {c['padding']!r}")
    return c


def timestep_embedding(t, dim):
    """Sinusoidal embedding, cos half first: [cos(t*f_i), sin(t*f_i)], f_i = 10000^(-i/half)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half).to(t.device)
    args = t.to(torch.float64)[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb.to(t.dtype if t.is_floating_point() else torch.get_default_dtype())


class Conv(nn.Module):
    """3x3 or 1x1 convolution with zeros or circular padding (circular wraps like a torus)."""

    def __init__(self, cin, cout, kernel, stride=1, padding="zeros"):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1 / math.sqrt(cin * kernel * kernel)
        nn.init.uniform_(self.bias, -bound, bound)
        self.stride, self.pad, self.mode = stride, kernel // 2, padding

    def forward(self, x):
        if self.pad and self.mode == "circular":
            x = F.pad(x, (self.pad,) * 4, mode="circular")
            return F.conv2d(x, self.weight, self.bias, self.stride, 0)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.pad)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb_dim, groups, dropout, padding):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=GROUPNORM_EPS)
        self.conv1 = Conv(cin, cout, 3, padding=padding)
        self.temb_proj = nn.Linear(temb_dim, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=GROUPNORM_EPS)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = Conv(cout, cout, 3, padding=padding)
        self.skip = Conv(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.skip(x) if self.skip is not None else x) + h


class Attention(nn.Module):
    """Self-attention over H*W tokens (row-major). qkv channels: q = [0,C), k = [C,2C),
    v = [2C,3C); head h uses channels [h*d, (h+1)*d) of each, d = C / heads."""

    def __init__(self, channels, heads, groups):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels, eps=GROUPNORM_EPS)
        self.qkv = Conv(channels, 3 * channels, 1)
        self.proj = Conv(channels, channels, 1)

    def forward(self, x):
        n, c, hh, ww = x.shape
        d = c // self.heads
        qkv = self.qkv(self.norm(x)).reshape(n, 3, self.heads, d, hh * ww)
        q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # [n, heads, d, T]
        w = torch.softmax(torch.einsum("nhdt,nhds->nhts", q, k) / math.sqrt(d), dim=-1)
        o = torch.einsum("nhts,nhds->nhdt", w, v).reshape(n, c, hh, ww)
        return x + self.proj(o)


class Downsample(nn.Module):
    def __init__(self, channels, padding):
        super().__init__()
        self.conv = Conv(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels, padding):
        super().__init__()
        self.conv = Conv(channels, channels, 3, padding=padding)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class UNet(nn.Module):
    def __init__(self, config=None, require_all=False):
        super().__init__()
        c = self.config = full_config(config, require_all)
        base, mult, pad, groups = c["base_channels"], c["channel_mult"], c["padding"], c["norm_groups"]
        temb_dim = 4 * base
        self.time_embed = nn.Sequential(nn.Linear(base, temb_dim), nn.SiLU(), nn.Linear(temb_dim, temb_dim))
        self.class_embed = nn.Embedding(c["num_classes"] + 1, temb_dim) if c["num_classes"] > 0 else None
        self.conv_in = Conv(c["in_channels"], base, 3, padding=pad)

        res = c["train_resolution"]
        skip_channels = [base]
        ch = base
        self.down = nn.ModuleList()
        for level, m in enumerate(mult):
            stage = nn.Module()
            stage.res, stage.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(c["num_res_blocks"]):
                stage.res.append(ResBlock(ch, base * m, temb_dim, groups, c["dropout"], pad))
                ch = base * m
                stage.attn.append(Attention(ch, c["num_heads"], groups) if res in c["attention_resolutions"] else nn.Identity())
                skip_channels.append(ch)
            if level != len(mult) - 1:
                stage.downsample = Downsample(ch, pad)
                skip_channels.append(ch)
                res //= 2
            self.down.append(stage)

        self.mid = nn.Module()
        self.mid.res0 = ResBlock(ch, ch, temb_dim, groups, c["dropout"], pad)
        self.mid.attn = Attention(ch, c["num_heads"], groups)
        self.mid.res1 = ResBlock(ch, ch, temb_dim, groups, c["dropout"], pad)

        self.up = nn.ModuleList([None] * len(mult))
        for level in reversed(range(len(mult))):
            m = mult[level]
            stage = nn.Module()
            stage.res, stage.attn = nn.ModuleList(), nn.ModuleList()
            for _ in range(c["num_res_blocks"] + 1):
                stage.res.append(ResBlock(ch + skip_channels.pop(), base * m, temb_dim, groups, c["dropout"], pad))
                ch = base * m
                stage.attn.append(Attention(ch, c["num_heads"], groups) if res in c["attention_resolutions"] else nn.Identity())
            if level != 0:
                stage.upsample = Upsample(ch, pad)
                res *= 2
            self.up[level] = stage

        self.out_norm = nn.GroupNorm(groups, ch, eps=GROUPNORM_EPS)
        self.conv_out = Conv(ch, c["out_channels"], 3, padding=pad)

    def forward(self, x, t, y=None):
        c = self.config
        temb = self.time_embed(timestep_embedding(t, c["base_channels"]))
        if self.class_embed is not None:
            if y is None:
                y = torch.full((x.shape[0],), c["num_classes"], dtype=torch.long, device=x.device)  # null label
            temb = temb + self.class_embed(y)
        h = self.conv_in(x)
        skips = [h]
        for stage in self.down:
            for res, attn in zip(stage.res, stage.attn):
                h = attn(res(h, temb))
                skips.append(h)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
                skips.append(h)
        h = self.mid.res1(self.mid.attn(self.mid.res0(h, temb)), temb)
        for level in reversed(range(len(c["channel_mult"]))):
            stage = self.up[level]
            for res, attn in zip(stage.res, stage.attn):
                h = attn(res(torch.cat([h, skips.pop()], dim=1), temb))
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(F.silu(self.out_norm(h)))


def flops_per_image(config, resolution):
    """Multiply-add FLOPs (2 per MAC) of one forward pass for one image, convs + linears + attention."""
    model = UNet(config)
    total = 0

    def conv_hook(mod, inp, out):
        nonlocal total
        total += 2 * out.numel() // out.shape[0] * mod.weight.shape[1] * mod.weight.shape[2] * mod.weight.shape[3]

    def attn_hook(mod, inp, out):
        nonlocal total
        _, ch, hh, ww = out.shape
        total += 2 * 2 * ch * (hh * ww) ** 2  # QK^T and PV

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, Conv)]
    hooks += [m.register_forward_hook(attn_hook) for m in model.modules() if isinstance(m, Attention)]
    with torch.no_grad():
        model(torch.zeros(1, model.config["in_channels"], resolution, resolution), torch.zeros(1))
    for h in hooks:
        h.remove()
    return total


def model_metadata(config, classes=None, provenance=None):
    """The metadata of a model file (docs/model-format.md); a checkpoint adds its own keys."""
    meta = {"tessera.format_version": FORMAT_VERSION,
            "tessera.config": json.dumps(config, sort_keys=True),
            "tessera.classes": json.dumps(list(classes or []))}
    for k, v in (provenance or {}).items():
        meta[f"tessera.provenance.{k}"] = str(v)
    return meta


def save_model(model, path, classes=None, provenance=None, weights=None):
    """Writes `model`'s config with its own weights, or with `weights` (name -> tensor, e.g. EMA)."""
    from safetensors_io import save
    weights = model.state_dict() if weights is None else weights
    save(path, {k: v.float() for k, v in weights.items()}, model_metadata(model.config, classes, provenance))


def load_model(path):
    from safetensors_io import load
    tensors, meta = load(path)
    model = UNet(json.loads(meta["tessera.config"]), require_all=True)
    model.load_state_dict(tensors, strict=True)
    return model, json.loads(meta.get("tessera.classes", "[]")), meta


if __name__ == "__main__":
    import argparse
    import sys
    p = argparse.ArgumentParser(description="Tessera reference U-Net: print tensor names or export random weights")
    p.add_argument("--config", default="{}", help="JSON config overrides")
    p.add_argument("--names", action="store_true", help="print every tensor name and shape")
    p.add_argument("--flops", type=int, metavar="RES", help="print forward GFLOP per image at RES x RES")
    p.add_argument("--export", metavar="PATH", help="write a randomly initialised model file")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    m = UNet(json.loads(a.config))
    if a.names:
        for k, v in m.state_dict().items():
            print(f"{k} {list(v.shape)}")
        print(f"parameters: {sum(v.numel() for v in m.parameters())}", file=sys.stderr)
    if a.flops:
        print(f"{flops_per_image(m.config, a.flops) / 1e9:.3f} GFLOP forward per image at {a.flops}x{a.flops}")
    if a.export:
        save_model(m, a.export, provenance={"source": "tools/reference/unet.py random init", "seed": a.seed})
