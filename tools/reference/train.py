#!/usr/bin/env python3
"""Train Tessera's U-Net with PyTorch DistributedDataParallel and write a Tessera model file.

For training at a scale one Vulkan device does not reach (docs/training-at-scale.md): the same
data layout, model options and training rules as `tessera train`, on one or many GPUs or CPU
processes, and the result is a model file that `tessera sample`, the C API and the viewer load.

  one process:   python3 tools/reference/train.py --data DIR --out OUT [options]
  N processes:   python3 -m torch.distributed.run --nproc_per_node N tools/reference/train.py ...
                 (torchrun; NCCL on GPUs, gloo on CPUs; --nnodes/--rdzv_* for several machines)

What is the same as `tessera train` (cli/train.cpp, runtime/src/diffusion/training_step.cpp):
  data      DIR/<class>/*.png|jpg, sub-folders are classes (sorted), folders without images and
            images loose beside class folders are ignored; a material model (--maps with more
            than albedo) reads <stem>_<map>.png per sample, every map present and of one size,
            height in 16 bits; pixel v of a b-bit file is v / (2^b - 1) * 2 - 1; images smaller
            than --res are upscaled (bilinear, aspect kept); each sample is a random --res crop,
            flipped in x and y and turned 90 degrees with probability 1/2 each, every map alike
  model     the options and defaults of `tessera train` (--res 32 --base 32 --mult 1,2,2 ...),
            ADM's zero initialisation of the last layer of every residual branch
  loss      x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, target eps or v = sqrt(abar) eps -
            sqrt(1 - abar) x0, MSE weighted per sample by min-SNR-gamma (--min-snr; 0 = off)
  optimiser torch.optim.AdamW; lr * min(1, step / warmup); global gradient norm clipped to
            --grad-clip; EMA decay min(--ema, (1 + step) / (10 + step)); label dropout to the
            null label (classifier-free guidance)
  files     OUT/model.safetensors (EMA weights), OUT/checkpoint.safetensors (the layout of
            `tessera train`'s checkpoint: weights, ema/, adam_m/, adam_v/, step, options),
            OUT/loss.csv (step,loss,grad_norm,lr,seconds)
What differs: --batch is the global batch (split evenly over the processes); each epoch visits
every sample once in a DistributedSampler order (tessera train draws samples with replacement),
and the crops and noise come from torch's generators, so the batches are not the same as
`tessera train`'s for the same --seed.

--replay FILE (for tests/training): instead of drawing batches, runs the steps stored in FILE
(safetensors: x0 F32 [S, N, C, R, R], noise F32 [S, N, C, R, R], timesteps I32 [S, N], labels I32
[S, N] after label dropout, for class-conditional models) from the weights of --init-from, so that
Tessera's trainer and this script can be compared on the same inputs.

Run with Debian's /usr/bin/python3 (python3-torch, python3-pil), or any PyTorch >= 1.13.
"""
import argparse
import csv
import json
import math
import os
import signal
import sys
import time
import traceback

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import unet  # noqa: E402

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAP_FILE_BITS = {"albedo": 8, "height": 16, "roughness": 8}  # runtime/src/model/material_maps.cpp
# tessera train's loss.csv header (runtime/include/tessera/training_log.hpp).
LOSS_HEADER = ["step", "loss", "grad_norm", "lr", "seconds"]


class UsageError(Exception):
    """A problem with the options or the data, reported as one line without a traceback."""


class UnreadableImage(UsageError):
    """A file the decoder refuses: skipped with a warning, as tessera train skips it."""


# --- data ---------------------------------------------------------------------------------------

def decode_image(path):
    """(pixels [H, W, 3] uint8 or uint16, bits): RGB as stb_image gives it to Tessera (grey
    replicated, alpha dropped)."""
    from PIL import Image
    with open(path, "rb") as f:
        head = f.read(26)
    png_bits = head[24] if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 26 else 8
    try:
        with Image.open(path) as im:
            if png_bits == 16 and head[25] in (0, 4):  # 16-bit grey (+ alpha): PIL mode I or I;16
                grey = np.array(im.convert("I") if im.mode not in ("I", "I;16") else im).astype(np.uint16)
                return np.repeat(grey[:, :, None], 3, axis=2), 16
            if png_bits == 16:
                raise UsageError(f"'{path}' is a 16-bit colour PNG, which PIL reads as 8 bits; store colour "
                                 "maps in 8 bits (height maps are 16-bit grey)")
            return np.array(im.convert("RGB")), 8
    except (OSError, ValueError) as e:
        raise UnreadableImage(f"'{path}' cannot be decoded: {e}") from None


def resize_bilinear(planes, width, height):
    """runtime/src/data/dataset.cpp's resize_bilinear on float planes [C, h, w]."""
    _, src_h, src_w = planes.shape

    def taps(size, src):
        s = np.clip((np.arange(size) + 0.5) * src / size - 0.5, 0.0, src - 1)
        i0 = s.astype(np.int64)
        return i0, np.minimum(i0 + 1, src - 1), s - i0

    y0, y1, fy = taps(height, src_h)
    x0, x1, fx = taps(width, src_w)
    p = planes.astype(np.float64)
    fy, fx = fy[:, None], fx[None, :]
    out = ((1 - fy) * ((1 - fx) * p[:, y0][:, :, x0] + fx * p[:, y0][:, :, x1]) +
           fy * ((1 - fx) * p[:, y1][:, :, x0] + fx * p[:, y1][:, :, x1]))
    return out.astype(np.float32)


def list_folder(folder):
    folders, images = [], []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isdir(path):
            folders.append(path)
        elif os.path.isfile(path) and name.lower().endswith(IMAGE_SUFFIXES):
            images.append(path)
    return folders, images


def map_suffix(path):
    """'x_height.png' -> ('x', 'height'); (None, None) without a map suffix."""
    stem = os.path.splitext(os.path.basename(path))[0]
    base, _, suffix = stem.rpartition("_")
    return (base, suffix) if base and suffix in unet.MAP_CHANNELS else (None, None)


def group_samples(folder, files, maps, warn):
    """The files of each sample in `folder`, one per map (dataset.cpp's group_samples)."""
    if maps == ["albedo"]:
        samples = [[f] for f in files if map_suffix(f)[1] in (None, "albedo")]
        if len(samples) < len(files):
            warn(f"ignored {len(files) - len(samples)} height/roughness map file(s) in '{folder}': "
                 "an albedo-only model trains on the albedo files")
        return samples
    by_stem, loose = {}, []
    for f in files:
        stem, kind = map_suffix(f)
        if kind is None:
            loose.append(os.path.basename(f))
        elif kind in maps:
            by_stem.setdefault(stem, {})[kind] = f
    if loose:
        warn(f"ignored {len(loose)} image file(s) without a map suffix in '{folder}': a material model "
             "reads <stem>_<map>.png")
    samples = []
    for stem, found in sorted(by_stem.items()):
        for m in maps:
            if m not in found:
                raise UsageError(f"training sample '{os.path.join(folder, stem)}' has no {m} map: "
                                 f"'{os.path.join(folder, stem + '_' + m + '.png')}' is missing "
                                 f"(the model's maps are {', '.join(maps)})")
        samples.append([found[m] for m in maps])
    return samples


class TextureData:
    """The training samples of a data folder, held as decoded, and their random crops."""

    def __init__(self, root, maps, res, warn):
        if not os.path.isdir(root):
            raise UsageError(f"training data '{root}' is not a folder")
        folders, loose = list_folder(root)
        groups = []
        for sub in folders:
            files = list_folder(sub)[1]
            if files:
                groups.append((os.path.basename(sub), sub, files))
            else:
                warn(f"ignored folder '{sub}': no PNG/JPEG files")
        if not groups:
            if not loose:
                raise UsageError(f"training data '{root}' holds no PNG/JPEG image")
            groups = [("", root, loose)]
        elif loose:
            warn(f"ignored {len(loose)} image file(s) in '{root}' itself: next to class folders, images are "
                 "used only inside a class folder")
        self.maps, self.res = maps, res
        self.classes, self.items = [], []  # items: (layers, label); a layer is (array, scale)
        for label, (name, folder, files) in enumerate(groups):
            samples = group_samples(folder, files, maps, warn)
            if not samples:
                raise UsageError(f"class folder '{folder}' holds no {'material sample' if len(maps) > 1 else 'image'}")
            loaded = 0
            for files_of_sample in samples:
                try:
                    self.items.append((self._load_sample(files_of_sample), label))
                    loaded += 1
                except UnreadableImage as e:
                    warn(f"skipped: {e}")
            if not loaded:
                raise UsageError(f"class folder '{folder}' holds no readable image")
            self.classes.append(name)
        # Model channel -> (layer, channel of its file), as Dataset::channel_source_.
        self.channel_source = [(m, c) for m, kind in enumerate(maps) for c in range(unet.MAP_CHANNELS[kind])]

    def _load_sample(self, files):
        layers = []
        for f, kind in zip(files, self.maps):
            pixels, bits = decode_image(f)
            if bits < MAP_FILE_BITS[kind]:
                raise UsageError(f"'{f}' is a {bits}-bit image; {kind} maps are stored in {MAP_FILE_BITS[kind]} bits")
            if layers and pixels.shape != layers[0][0].shape:
                raise UsageError(f"the maps of training sample '{files[0]}' differ in size: "
                                 f"{layers[0][0].shape[1]}x{layers[0][0].shape[0]}, but '{f}' is "
                                 f"{pixels.shape[1]}x{pixels.shape[0]}")
            layers.append((pixels, (1 << bits) - 1))
        height, width = layers[0][0].shape[:2]
        if min(width, height) < self.res:  # upscaled once, held as floats in [-1, 1] (scale None)
            s = self.res / min(width, height)
            w, h = max(self.res, math.ceil(width * s)), max(self.res, math.ceil(height * s))
            layers = [(resize_bilinear(self._to_unit(p, scale).transpose(2, 0, 1), w, h).transpose(1, 2, 0), None)
                      for p, scale in layers]
        return layers

    @staticmethod
    def _to_unit(pixels, scale):
        # v / 127.5 - 1 in float32, the value PixelImage::value gives.
        if scale is None:
            return pixels
        return pixels.astype(np.float32) / np.float32(scale / 2) - np.float32(1)

    def __len__(self):
        return len(self.items)

    def crop(self, index, generator):
        """Sample `index` as [C, res, res] float32: a random crop, flips and 90-degree turn."""
        layers, label = self.items[index]
        res = self.res
        height, width = layers[0][0].shape[:2]
        u = torch.rand(5, generator=generator, dtype=torch.float64).tolist()
        ox, oy = min(width - res, int(u[0] * (width - res + 1))), min(height - res, int(u[1] * (height - res + 1)))
        channels = []
        for layer, c in self.channel_source:
            pixels, scale = layers[layer]
            window = self._to_unit(pixels[oy:oy + res, ox:ox + res, c], scale)
            if u[2] < 0.5:
                window = window[:, ::-1]
            if u[3] < 0.5:
                window = window[::-1, :]
            if u[4] < 0.5:  # out[y, x] = window[res - 1 - x, y], dataset.cpp's rotation
                window = window[::-1, :].T
            channels.append(window)
        return np.ascontiguousarray(np.stack(channels)), label


# --- diffusion ----------------------------------------------------------------------------------

class NoiseSchedule:
    """runtime/src/diffusion/noise_schedule.cpp in float64."""

    def __init__(self, kind, timesteps):
        t = np.arange(timesteps, dtype=np.float64)
        if kind == "linear":
            betas = 1e-4 + (0.02 - 1e-4) * t / (timesteps - 1)
        else:
            f = lambda x: np.cos((x / timesteps + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
            betas = np.minimum(1.0 - f(t + 1) / f(t), 0.999)
        self.alpha_bar = np.cumprod(1.0 - betas)

    def tables(self, min_snr_gamma, prediction, device):
        """float32 per-timestep tables: sqrt(abar), sqrt(1 - abar), the min-SNR loss weight."""
        snr = self.alpha_bar / (1.0 - self.alpha_bar)
        if min_snr_gamma > 0:
            weight = np.minimum(snr, min_snr_gamma) / (snr + 1.0 if prediction == "v" else snr)
        else:
            weight = np.ones_like(snr)
        return [torch.tensor(v, dtype=torch.float32, device=device)
                for v in (np.sqrt(self.alpha_bar), np.sqrt(1.0 - self.alpha_bar), weight)]


def zero_init_residual_outputs(model):
    """ADM's (and Tessera's) zero init of the last layer of each residual branch, so the
    untrained network starts as an identity-like map (runtime/src/model/unet_blocks.cpp)."""
    for m in model.modules():
        last = (m.conv2 if isinstance(m, unet.ResBlock) else m.proj if isinstance(m, unet.Attention) else None)
        for p in (last.weight, last.bias) if last is not None else ():
            torch.nn.init.zeros_(p)
    torch.nn.init.zeros_(model.conv_out.weight)
    torch.nn.init.zeros_(model.conv_out.bias)


# --- options ------------------------------------------------------------------------------------

def int_list(text):
    return [int(v) for v in text.split(",") if v.strip()] if text.strip() not in ("", "''") else []


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="See docs/training-at-scale.md.")
    p.add_argument("--data", help="folder of PNG/JPEG textures; sub-folders are classes")
    p.add_argument("--maps", default="albedo", help="maps the model generates, e.g. albedo,height,roughness")
    p.add_argument("--out", default="train-out", help="folder for model.safetensors, checkpoint, loss.csv")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--force", action="store_true", help="start a new run in an OUT that holds one")
    p.add_argument("--init-from", metavar="MODEL",
                   help="start from a Tessera model's weights; the model options and classes are its own")
    m = p.add_argument_group("model (tessera train's options and defaults)")
    m.add_argument("--res", type=int, default=32)
    m.add_argument("--base", type=int, default=32)
    m.add_argument("--mult", type=int_list, default=[1, 2, 2])
    m.add_argument("--res-blocks", type=int, default=1)
    m.add_argument("--attn", type=int_list, default=[8], help="attention resolutions, '' for none")
    m.add_argument("--heads", type=int, default=4)
    m.add_argument("--groups", type=int, default=8)
    m.add_argument("--padding", choices=["circular", "zeros"], default="circular")
    m.add_argument("--schedule", choices=["linear", "cosine"], default="linear")
    m.add_argument("--prediction", choices=["eps", "v"], default="eps")
    m.add_argument("--unconditional", action="store_true", help="ignore class folders")
    t = p.add_argument_group("training")
    t.add_argument("--batch", type=int, default=16, help="global batch per step, split over the processes")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=10000)
    t.add_argument("--minutes", type=float, default=0, help="also stop after this long (0: no limit)")
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--warmup", type=int, default=200, help="linear learning-rate warm-up steps")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--grad-clip", type=float, default=1.0, help="max global gradient norm (0: no clipping)")
    t.add_argument("--ema", type=float, default=0.999)
    t.add_argument("--label-dropout", type=float, default=0.1)
    t.add_argument("--min-snr", type=float, default=0.0, help="min-SNR gamma (0: plain MSE)")
    r = p.add_argument_group("reports and devices")
    r.add_argument("--checkpoint-every", type=int, default=500)
    r.add_argument("--log-every", type=int, default=10)
    r.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: CUDA when available (NCCL), else CPU (gloo)")
    r.add_argument("--replay", metavar="FILE", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    a.maps, a.argv = [s.strip() for s in a.maps.split(",")], argv
    for name in a.maps:
        if name not in unet.MAP_CHANNELS:
            p.error(f"--maps: '{name}' is not a map (maps: {', '.join(unet.MAP_CHANNELS)})")
    checks = [(a.batch >= 1, "--batch must be at least 1"), (a.steps >= 1, "--steps must be at least 1"),
              (a.lr > 0, "--lr must be positive"), (a.warmup >= 0, "--warmup must be >= 0"),
              (0 <= a.label_dropout <= 1, "--label-dropout must be in [0, 1]"), (0 <= a.ema <= 1, "--ema must be in [0, 1]"),
              (a.grad_clip >= 0, "--grad-clip must be >= 0"), (a.min_snr >= 0, "--min-snr must be >= 0"),
              (a.checkpoint_every >= 1, "--checkpoint-every must be at least 1"),
              (a.data or a.replay, "--data is required"),
              (not (a.resume and (a.force or a.init_from)), "--resume continues a run: give neither --force nor --init-from"),
              (not a.replay or a.init_from, "--replay needs --init-from (the weights the replayed steps start from)")]
    for ok, message in checks:
        if not ok:
            p.error(message)
    return a


def recorded_options(a):
    """The options a checkpoint records, under tessera train's names (cli/train.cpp)."""
    return {"batch": a.batch, "res": a.res, "lr": a.lr, "warmup": a.warmup, "weight_decay": a.weight_decay,
            "grad_clip": a.grad_clip, "ema": a.ema, "label_dropout": a.label_dropout, "min_snr": a.min_snr,
            "seed": a.seed, "steps": a.steps}


# --- distributed --------------------------------------------------------------------------------

class Processes:
    """This process's place among torchrun's: rank, world size, device. Without torchrun, one
    process and no process group."""

    def __init__(self, device_choice):
        cuda = torch.cuda.is_available() if device_choice == "auto" else device_choice == "cuda"
        if cuda and not torch.cuda.is_available():
            raise UsageError("--device cuda: this PyTorch sees no CUDA device")
        self.distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        local = int(os.environ.get("LOCAL_RANK", 0))
        self.device = torch.device(f"cuda:{local}" if cuda else "cpu")
        if cuda:
            torch.cuda.set_device(self.device)
        if self.distributed:
            dist.init_process_group("nccl" if cuda else "gloo")
        self.main = self.rank == 0

    def mean(self, values):
        """The mean over the processes of a list of floats."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.distributed:
            dist.all_reduce(t)
        return (t / self.world).tolist()

    def exit(self, code):
        """Ends a distributed process once every process has finished its work; returns `code`
        when there is one process. The barrier makes process 0's saved files final before anyone
        leaves. The process group is then not destroyed: gloo's destroy_process_group stalls now
        and then when a peer has already gone (pytorch/pytorch#75097, which a barrier before it
        does not cure, and which left a worker here waiting forever after its last step), and it
        frees nothing that the end of the process does not. os._exit skips the interpreter's
        teardown of the group for the same reason, so the output streams are flushed first."""
        if not self.distributed:
            return code
        dist.barrier()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


# --- checkpoints --------------------------------------------------------------------------------

def read_model_file(path):
    try:
        tensors, meta = safetensors_io.load(path)
        config = json.loads(meta["tessera.config"])
    except (OSError, ValueError, KeyError) as e:
        raise UsageError(f"'{path}' is not a Tessera model file: {e}") from None
    return tensors, meta, config, json.loads(meta.get("tessera.classes", "[]"))


def save_checkpoint(path, model, ema, optimizer, step, options, classes, provenance):
    tensors = {}
    for name, p in model.named_parameters():
        state = optimizer.state.get(p, {})
        tensors[name] = p.detach()
        tensors["ema/" + name] = ema[name]
        tensors["adam_m/" + name] = state.get("exp_avg", torch.zeros_like(p))
        tensors["adam_v/" + name] = state.get("exp_avg_sq", torch.zeros_like(p))
    meta = unet.model_metadata(model.config, classes, provenance)
    meta.update({"tessera.checkpoint.step": str(step), "tessera.checkpoint.seed": str(options["seed"]),
                 "tessera.checkpoint.options": json.dumps(options)})
    safetensors_io.save(path, {k: v.float().cpu() for k, v in tensors.items()}, meta)


def load_checkpoint(path, model, ema, optimizer):
    tensors, meta = safetensors_io.load(path)
    step = int(meta["tessera.checkpoint.step"])
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(tensors[name])
            ema[name].copy_(tensors["ema/" + name])
            optimizer.state[p] = {"step": torch.tensor(float(step)),
                                  "exp_avg": tensors["adam_m/" + name].to(p.device),
                                  "exp_avg_sq": tensors["adam_v/" + name].to(p.device)}
    return step


class LossLog:
    """OUT/loss.csv as tessera train writes it; a resumed run keeps the rows up to its step."""

    def __init__(self, path, resume_step):
        rows = []
        if resume_step and os.path.exists(path):
            with open(path, newline="") as f:
                rows = [r for r in list(csv.reader(f))[1:] if r and int(r[0]) <= resume_step]
        self.file = open(path, "w", newline="")
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerows([LOSS_HEADER] + rows)
        self.file.flush()

    def append(self, step, loss, grad_norm, lr, seconds):
        self.writer.writerow([step, f"{loss:.9g}", f"{grad_norm:.9g}", f"{lr:.9g}", f"{seconds:.3f}"])
        self.file.flush()


# --- batches ------------------------------------------------------------------------------------

class DataBatches:
    """This process's share of each step's global batch: images in a DistributedSampler order
    (every sample once per epoch; a data set smaller than a batch is repeated), random crops,
    label dropout, timesteps and noise from generators seeded by (seed, step, rank), so a
    resumed run sees the batches it would have seen."""

    def __init__(self, data, a, procs, num_classes, timesteps):
        from torch.utils.data.distributed import DistributedSampler
        self.data, self.a, self.procs = data, a, procs
        self.local = a.batch // procs.world
        repeats = math.ceil(a.batch / len(data))
        self.sampler = DistributedSampler(range(len(data) * repeats), num_replicas=procs.world, rank=procs.rank,
                                          shuffle=True, seed=a.seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // self.local
        self.num_classes, self.timesteps = num_classes, timesteps
        self.epoch, self.order = None, None

    def batch(self, step):
        """(x0, noise, timesteps, labels or None) of step `step` (0-based), on the CPU."""
        epoch, position = divmod(step, self.steps_per_epoch)
        if epoch != self.epoch:
            self.sampler.set_epoch(epoch)
            self.epoch, self.order = epoch, list(self.sampler)
        g = torch.Generator().manual_seed((self.a.seed * 1_000_003 + step) * 4099 + self.procs.rank)
        chosen = self.order[position * self.local:(position + 1) * self.local]
        crops = [self.data.crop(i % len(self.data), g) for i in chosen]
        x0 = torch.from_numpy(np.stack([c[0] for c in crops]))
        labels = None
        if self.num_classes:
            labels = torch.tensor([c[1] for c in crops], dtype=torch.long)
            dropped = torch.rand(self.local, generator=g) < self.a.label_dropout
            labels[dropped] = self.num_classes
        t = torch.randint(0, self.timesteps, (self.local,), generator=g)
        return x0, torch.randn(x0.shape, generator=g), t, labels


class ReplayBatches:
    """The steps stored by a test (--replay): this process's slice of every step's batch."""

    def __init__(self, path, procs):
        tensors, _ = safetensors_io.load(path)
        self.x0, self.noise, self.t = tensors["x0"], tensors["noise"], tensors["timesteps"].long()
        self.labels = tensors["labels"].long() if "labels" in tensors else None
        steps, n = self.t.shape
        if n % procs.world:
            raise UsageError(f"--replay: a batch of {n} does not split over {procs.world} processes")
        self.steps, self.size, self.slice = steps, n, slice(procs.rank * n // procs.world, (procs.rank + 1) * n // procs.world)

    def batch(self, step):
        s = self.slice
        return (self.x0[step, s], self.noise[step, s], self.t[step, s],
                None if self.labels is None else self.labels[step, s])


# --- training -----------------------------------------------------------------------------------

def build_model(a, data, source):
    """(model, classes): the config and classes of `source` (read_model_file of --init-from or
    --resume's checkpoint; weights from --init-from only), else new from the options."""
    if source:
        tensors, _, config, classes = source
        model = unet.UNet(config, require_all=True)
        if a.init_from:
            model.load_state_dict(tensors, strict=True)
        if data is not None and config["num_classes"] and data.classes != classes:
            raise UsageError(f"the data folder's classes ({', '.join(data.classes)}) differ from the "
                             f"model's ({', '.join(classes)})")
        return model, classes
    conditional = not a.unconditional and data.classes != [""]
    classes = data.classes if conditional else []
    config = {"base_channels": a.base, "channel_mult": a.mult, "num_res_blocks": a.res_blocks,
              "attention_resolutions": a.attn, "num_heads": a.heads, "norm_groups": a.groups,
              "num_classes": len(classes), "padding": a.padding, "train_resolution": a.res,
              "schedule": a.schedule, "prediction": a.prediction, "maps": a.maps}
    torch.manual_seed(a.seed)  # the same initial weights in every process (DDP also broadcasts them)
    try:
        model = unet.UNet(config)
    except ValueError as e:  # e.g. --groups not dividing a width, --heads an attention width
        raise UsageError(f"the model options do not make a U-Net: {e}") from None
    zero_init_residual_outputs(model)
    return model, classes


def apply_recorded_options(a, meta, argv):
    """--resume: the checkpoint's options, but a training option given again applies from the
    resumed step on; a data option (--batch, --seed) given with another value is refused."""
    recorded = json.loads(meta["tessera.checkpoint.options"])
    given = {key for key in recorded if any(arg.split("=")[0] == "--" + key.replace("_", "-") for arg in argv)}
    for key, value in recorded.items():
        if key in given and key in ("batch", "seed", "res") and getattr(a, key) != value:
            raise UsageError(f"--resume: --{key} cannot change in a resumed run (checkpoint {value}, given "
                             f"{getattr(a, key)})")
        if key not in given:
            setattr(a, key, value)


def train(a):
    procs = Processes(a.device)
    log = (lambda text: print(text, file=sys.stderr, flush=True)) if procs.main else (lambda text: None)
    warn = lambda text: log(f"warning: {text}")  # noqa: E731
    if a.batch % procs.world:
        raise UsageError(f"--batch {a.batch} does not split evenly over {procs.world} processes")
    checkpoint_path, model_path = os.path.join(a.out, "checkpoint.safetensors"), os.path.join(a.out, "model.safetensors")
    if a.resume and not os.path.exists(checkpoint_path):
        raise UsageError(f"--resume: no checkpoint at '{checkpoint_path}'")
    if procs.main and not a.resume and not a.force:
        earlier = [f for f in (checkpoint_path, model_path) if os.path.exists(f)]
        if earlier:
            raise UsageError(f"'{a.out}' holds an earlier run ({', '.join(map(os.path.basename, earlier))}); "
                             "continue it with --resume, replace it with --force, or choose another --out")
    source_path = checkpoint_path if a.resume else a.init_from
    source = read_model_file(source_path) if source_path else None
    if source:  # the model's maps and resolution are the file's
        a.maps, a.res = source[2].get("maps", ["albedo"]), source[2]["train_resolution"]
    if a.resume:
        apply_recorded_options(a, source[1], a.argv)
    data = None
    if a.replay:
        batches = ReplayBatches(a.replay, procs)
        a.steps, a.batch = batches.steps, batches.size
    else:
        data = TextureData(a.data, a.maps, a.res, warn)
    model, classes = build_model(a, data, source)
    config = model.config
    model.to(procs.device)
    ema = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=a.weight_decay)
    step = load_checkpoint(checkpoint_path, model, ema, optimizer) if a.resume else 0
    if a.resume:
        log(f"resumed at step {step}")
    if not a.replay:
        batches = DataBatches(data, a, procs, config["num_classes"], config["timesteps"])
    trained = DistributedDataParallel(model, device_ids=[procs.device.index] if procs.device.type == "cuda" else None) \
        if procs.distributed else model
    sqrt_ab, sqrt_1mab, loss_weight = NoiseSchedule(config["schedule"], config["timesteps"]).tables(
        a.min_snr, config["prediction"], procs.device)
    options = recorded_options(a)
    provenance = {"trainer": "tools/reference/train.py (PyTorch DDP)", "options": json.dumps(options),
                  "processes": procs.world, "device": procs.device.type,
                  "data": os.path.abspath(a.data) if a.data else f"replay {a.replay}"}
    if a.init_from:
        provenance["init_from"] = os.path.abspath(a.init_from)
    if procs.main:
        os.makedirs(a.out, exist_ok=True)
        loss_log = LossLog(os.path.join(a.out, "loss.csv"), step)
    count = f"{len(data)} {'material samples' if len(config.get('maps', ['albedo'])) > 1 else 'images'} in " \
            f"{len(data.classes)} classes" if data else f"{a.steps} replayed steps"
    log(f"data: {count}; model {json.dumps(config, sort_keys=True)}")
    backend = dist.get_backend() if procs.distributed else "no process group"
    log(f"processes: {procs.world} ({backend}, {procs.device.type}); parameters: "
        f"{sum(p.numel() for p in model.parameters())}; batch {a.batch} ({a.batch // procs.world} per process)")

    stop_signal = []
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda number, frame: stop_signal.append(number))

    def save():
        if not procs.main:
            return
        provenance["steps"] = step
        save_checkpoint(checkpoint_path, model, ema, optimizer, step, options, classes, provenance)
        unet.save_model(model, model_path, classes, provenance, weights=ema)

    start = time.monotonic()
    first_step, saved = step, step
    while step < a.steps:
        x0, noise, t, labels = (v.to(procs.device, non_blocking=True) if v is not None else None
                                for v in batches.batch(step))
        step += 1
        lr = a.lr * min(1.0, step / a.warmup) if a.warmup > 0 else a.lr
        for group in optimizer.param_groups:
            group["lr"] = lr
        a_t, b_t = sqrt_ab[t][:, None, None, None], sqrt_1mab[t][:, None, None, None]
        xt = a_t * x0 + b_t * noise
        target = a_t * noise - b_t * x0 if config["prediction"] == "v" else noise
        out = trained(xt, t.float(), labels)
        loss = (loss_weight[t][:, None, None, None] * (out - target) ** 2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip if a.grad_clip > 0 else math.inf)
        optimizer.step()
        decay = min(a.ema, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            for name, p in model.named_parameters():
                ema[name].mul_(decay).add_(p.detach(), alpha=1.0 - decay)
        elapsed = time.monotonic() - start
        timed_out = a.minutes > 0 and elapsed >= 60 * a.minutes
        mean_loss, norm, stop = procs.mean([loss.item(), grad_norm.item(), float(bool(stop_signal) or timed_out)])
        if not math.isfinite(mean_loss):
            raise UsageError(f"training diverged: loss is {mean_loss} at step {step}")
        if procs.main:
            loss_log.append(step, mean_loss, norm, lr, elapsed)
            if step % a.log_every == 0 or step == a.steps:
                rate = (step - first_step) / max(elapsed, 1e-9)
                log(f"step {step}/{a.steps}  loss {mean_loss:.4f}  grad norm {norm:.3f}  lr {lr:.3g}  "
                    f"{rate:.2f} step/s  {rate * a.batch:.1f} img/s")
        if step % a.checkpoint_every == 0:
            save()
            saved = step
        if stop > 0:
            log(f"stopping at step {step}: " + ("signal" if stop_signal else f"--minutes {a.minutes:g} reached"))
            break
    for s in (signal.SIGINT, signal.SIGTERM):  # from here on a signal ends the process at once
        signal.signal(s, signal.SIG_DFL)
    if saved != step:
        save()
    log(f"done: {step} steps; model {model_path} (EMA weights), checkpoint {checkpoint_path}; "
        f"sample it with: tessera sample --model {model_path} ...")
    return procs.exit(128 + stop_signal[0] if stop_signal else 0)


def main(argv):
    a = parse_args(argv)
    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))))
    try:
        return train(a)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    except Exception:  # noqa: BLE001 - reported, then the process ends as below
        traceback.print_exc()
        code = 1
    if dist.is_initialized():  # a failed process leaves without tearing the group down (Processes.exit)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
