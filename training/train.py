"""Trains the plate reader and exports it to ONNX (`make train-ocr` runs this).

Owns: the network (a small all-convolutional CTC reader), the training loop (seeded, with a
checkpoint after every epoch that `--resume` continues from), the figures it reports
(CTC loss, exact-read accuracy on the held-out real plates and on synthetic plates), the
ONNX export and the check that ONNX Runtime reads what PyTorch reads.

The network reads a grey image 32 px high (one text line, or a one-line plate) or 64 px
high (a two-line plate, read as one image) and 128 px wide. Its last feature map has one row
per 32 px of height and 32 columns; rows are read top to bottom, each left to right, so a
two-line plate comes out as its top line followed by its bottom line.
"""

import argparse
import json
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import data
import synth

BLANK = 0
CLASSES = 1 + len(synth.CHARSET)


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class PlateReader(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            *block(1, 16), nn.MaxPool2d(2),            # H/2,  W/2
            *block(16, 32), nn.MaxPool2d(2),           # H/4,  W/4
            *block(32, 48), *block(48, 48), nn.MaxPool2d((2, 1)),    # H/8
            *block(48, 64), *block(64, 64), nn.MaxPool2d((2, 1)),    # H/16
            nn.Conv2d(64, 128, (2, 3), stride=(2, 1), padding=(0, 1), bias=False),  # H/32
            nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Dropout(0.1),
            nn.Conv2d(128, 128, (1, 3), padding=(0, 1), bias=False),
            nn.BatchNorm2d(128), nn.ReLU(inplace=True),
        )
        self.head = nn.Conv2d(128, CLASSES, 1)

    def forward(self, x):
        """x: [N,1,H,128] in [-1,1] -> log-probabilities [N, T, CLASSES], T = H/32 * 32."""
        f = self.head(self.features(x))             # [N, C, R, 32]
        n, c, r, w = f.shape
        f = f.permute(0, 2, 3, 1).reshape(n, r * w, c)  # rows top to bottom, each left to right
        return F.log_softmax(f, dim=-1)


class Exported(nn.Module):
    """What ships: probabilities (softmax), the same layout as PP-OCR's recogniser output."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).exp()


def to_tensor(arr):
    return torch.from_numpy(arr.astype(np.float32)[:, None] / 127.5 - 1.0)


def encode(labels):
    idx = {c: i + 1 for i, c in enumerate(synth.CHARSET)}
    targets = torch.tensor([idx[c] for l in labels for c in l], dtype=torch.long)
    lengths = torch.tensor([len(l) for l in labels], dtype=torch.long)
    return targets, lengths


def greedy(logp):
    out = []
    for row in logp.argmax(-1).tolist():
        s, prev = [], BLANK
        for k in row:
            if k != prev and k != BLANK:
                s.append(synth.CHARSET[k - 1])
            prev = k
        out.append("".join(s))
    return out


def batches(train, batch, rng):
    """Batches of one kind (one height) each, shuffled."""
    order = []
    for kind, (xs, ys) in train.items():
        idx = list(range(len(xs)))
        rng.shuffle(idx)
        order += [(kind, idx[i:i + batch]) for i in range(0, len(idx), batch)]
    rng.shuffle(order)
    return order


def evaluate(net, sets):
    net.eval()
    result = {}
    with torch.no_grad():
        for name, packed in sets.items():
            right = total = 0
            loss_sum = 0.0
            for kind, (xs, ys) in packed.items():
                for i in range(0, len(xs), 256):
                    x, y = to_tensor(xs[i:i + 256]), ys[i:i + 256]
                    logp = net(x)
                    t, l = encode(y)
                    loss_sum += F.ctc_loss(logp.permute(1, 0, 2), t, torch.full((len(y),), logp.shape[1]), l,
                                           blank=BLANK, reduction="sum", zero_infinity=True).item()
                    right += sum(p == g for p, g in zip(greedy(logp), y))
                    total += len(y)
                result[f"{name}_{kind}_acc"] = None
            for kind, (xs, ys) in packed.items():
                with torch.no_grad():
                    preds = []
                    for i in range(0, len(xs), 256):
                        preds += greedy(net(to_tensor(xs[i:i + 256])))
                result[f"{name}_{kind}_acc"] = round(sum(p == g for p, g in zip(preds, ys)) / max(1, len(ys)), 4)
            result[f"{name}_acc"] = round(right / max(1, total), 4)
            result[f"{name}_loss"] = round(loss_sum / max(1, total), 4)
    net.train()
    return result


def export(net, path, sets):
    import onnx
    import onnxruntime as ort

    model = Exported(net).eval()  # the exporter restores the wrapper's mode afterwards
    dummy = torch.zeros(1, 1, synth.LINE_H, synth.WIDTH)
    torch.onnx.export(model, dummy, path, input_names=["x"], output_names=["probs"],
                      dynamic_axes={"x": {0: "n", 2: "h"}, "probs": {0: "n", 1: "t"}},
                      opset_version=17, dynamo=False)
    m = onnx.load(path)
    meta = m.metadata_props.add()
    meta.key, meta.value = "character", "\n".join(synth.CHARSET)
    meta = m.metadata_props.add()
    meta.key, meta.value = "input", "grey, (x/255-0.5)/0.5, height 32 per text line, width 128"
    onnx.save(m, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for kind, (xs, _) in sets["real"].items():
        x = to_tensor(xs[:64])
        with torch.no_grad():
            want = model(x).numpy()
        got = sess.run(None, {"x": x.numpy()})[0]
        worst = max(worst, float(np.abs(want - got).max()))
    print(f"exported {path}: {os.path.getsize(path)} bytes; ONNX Runtime vs PyTorch max |diff| {worst:.2e}")
    if worst > 1e-4:
        raise SystemExit("ONNX export differs from PyTorch")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crops", nargs="+", required=True, help="folders made by `matthan crops`")
    ap.add_argument("--out", default="training/runs/reader")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--synthetic", type=int, default=14000)
    ap.add_argument("--copies", type=int, default=4, help="augmented copies of each real crop")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--export", help="write the ONNX model here when training ends")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    start = time.time()
    train, val, holdout = data.build(args.crops, args.seed, args.synthetic, args.copies,
                                     os.path.join(args.out, f"data-{args.seed}.npz"))
    with open(os.path.join(args.out, "holdout.tsv"), "w") as f:
        f.write("".join(h + "\n" for h in holdout))
    sizes = {k: len(v[1]) for k, v in train.items()}
    print(f"data ready in {time.time() - start:.0f} s: {sizes}", flush=True)
    net = PlateReader()
    print(f"parameters: {sum(p.numel() for p in net.parameters())}")
    steps_per_epoch = sum((n + args.batch - 1) // args.batch for n in sizes.values())
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.15)
    ckpt = os.path.join(args.out, "checkpoint.pt")
    epoch0, log = 0, []
    if args.resume and os.path.exists(ckpt):
        state = torch.load(ckpt, weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        epoch0, log = state["epoch"], state["log"]
        print(f"resumed after epoch {epoch0}")
    for epoch in range(epoch0, args.epochs):
        t0 = time.time()
        rng = random.Random(args.seed * 100 + epoch)
        torch.manual_seed(args.seed * 100 + epoch)
        total, n = 0.0, 0
        for kind, idx in batches(train, args.batch, rng):
            xs, ys = train[kind]
            x = to_tensor(xs[idx])
            y = [ys[i] for i in idx]
            t, l = encode(y)
            logp = net(x)
            loss = F.ctc_loss(logp.permute(1, 0, 2), t, torch.full((len(y),), logp.shape[1]), l,
                              blank=BLANK, zero_infinity=True)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            n += len(y)
        figures = {"epoch": epoch + 1, "train_loss": round(total / n, 4),
                   "seconds": round(time.time() - t0)}
        figures.update(evaluate(net, val))
        log.append(figures)
        print(json.dumps(figures), flush=True)
        torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "epoch": epoch + 1, "log": log}, ckpt)
    with open(os.path.join(args.out, "log.json"), "w") as f:
        json.dump({"args": vars(args), "epochs": log,
                   "training_seconds": sum(e["seconds"] for e in log)}, f, indent=1)
    if args.export:
        export(net, args.export, val)


if __name__ == "__main__":
    main()
