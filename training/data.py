"""The plate reader's data: synthetic plates (synth.py) and real crops cut by `matthan crops`.

Owns: matching each cut-out plate to its label, splitting a 2-line label between the lines
the line finder found, the held-out plates (a fifth of the plates of each real set, chosen by
a hash of the key, so the choice never depends on the order or on the model), light
augmentation of real crops, and the cached arrays a training run reads.
"""

import csv
import hashlib
import io
import os
import random
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageFilter

import synth

KINDS = ("line", "plate1", "plate2")


def held_out_plates(crops_dir):
    """The validation plates of a real set: the fifth (rounded up) of its labelled plates
    with the smallest SHA-256 of their key, so the choice depends on neither the order of the
    files nor the model."""
    keys = sorted({r["plate"].upper() for r in csv.DictReader(open(os.path.join(crops_dir, "labels.csv")))})
    keys.sort(key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    return set(keys[: (len(keys) + 4) // 5])


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def clean(text):
    return "".join(c for c in text.upper() if c in synth.CHARSET)


def split_label(label, raw_top, raw_bottom):
    """Where a 2-line plate's key breaks between its lines, judged by what was read in each."""
    best = None
    for k in range(2, len(label) - 2):
        cost = edit_distance(clean(raw_top), label[:k]) + edit_distance(clean(raw_bottom), label[k:])
        if best is None or cost < best[0]:
            best = (cost, k)
    return best[1] if best else None


def real_samples(crops_dir):
    """(key, kind, PIL grey image, label) for every plate of the set that a crop matches."""
    rows = list(csv.DictReader(open(os.path.join(crops_dir, "crops.csv"), encoding="utf-8")))
    by_label = {}
    per_image = {}
    for r in rows:
        per_image.setdefault(r["file"], []).append(r)
    for file, crops in per_image.items():
        labels = [l for l in crops[0]["labels"].split(";") if l]
        for label in labels:
            # The crop whose read is nearest the label; an image with one label and one crop
            # needs no read to match (the plate detector boxed the plate, PP-OCR misread it).
            scored = []
            for r in crops:
                seen = r["key"] or clean(r["raw_lines"].replace("|", ""))
                scored.append((edit_distance(seen, label), r))
            d, r = min(scored, key=lambda x: x[0])
            if d <= max(2, len(label) // 3) or (len(labels) == 1 and len(crops) == 1):
                by_label.setdefault(label, []).append(r)
    out = []
    for label, r in [(l, r) for l in sorted(by_label) for r in by_label[l]]:
        lines = [l for l in r["lines"].split(";") if l]
        raw = r["raw_lines"].split("|")
        img = lambda name: Image.open(os.path.join(crops_dir, name)).convert("L")
        crop = img(r["crop"])
        # The product tells a two-line plate by the crop's shape (reader.rs, looks_two_line).
        kind = "plate2" if crop.width < 2.6 * crop.height else "plate1"
        out.append((label, kind, crop, label))
        if len(lines) == 1:
            out.append((label, "line", img(lines[0]), label))
        elif len(lines) == 2 and len(raw) == 2:
            k = split_label(label, raw[0], raw[1])
            if k:
                out.append((label, "line", img(lines[0]), label[:k]))
                out.append((label, "line", img(lines[1]), label[k:]))
    return out


def light_damage(img, rng):
    """Small changes to a real crop: shift, tilt, blur, contrast, noise, JPEG."""
    w, h = img.size
    j = lambda s: rng.uniform(-s, s)
    quad = [j(0.05 * w), j(0.08 * h), j(0.05 * w), h + j(0.08 * h),
            w + j(0.05 * w), h + j(0.08 * h), w + j(0.05 * w), j(0.08 * h)]
    img = img.transform((w, h), Image.QUAD, quad, Image.BILINEAR)
    if rng.random() < 0.4:
        s = rng.uniform(0.5, 1.0)
        img = img.resize((max(4, int(w * s)), max(4, int(h * s))), Image.BILINEAR)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0)))
    a = np.asarray(img).astype(np.float32)
    a = (a - a.mean()) * rng.uniform(0.6, 1.3) + a.mean() + rng.uniform(-35, 35)
    a += np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(0, 8), a.shape)
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(35, 95))
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def height_of(kind):
    return 2 * synth.LINE_H if kind == "plate2" else synth.LINE_H


def _synth_chunk(args):
    seed, n = args
    rng = random.Random(seed)
    f = synth.fonts()
    return [synth.sample(rng, f) for _ in range(n)]


def synthetic(seed, n, workers=2):
    chunks = [(seed * 1000 + i, n // 20) for i in range(20)]
    with Pool(workers) as p:
        parts = p.map(_synth_chunk, chunks)
    return [s for part in parts for s in part]


def pack(samples):
    """{kind: (uint8 [N,H,128], labels list)}."""
    out = {}
    for kind in KINDS:
        xs = [a for k, a, _ in samples if k == kind]
        ys = [l for k, _, l in samples if k == kind]
        if xs:
            out[kind] = (np.stack(xs), ys)
    return out


def build(crops_dirs, seed, n_synth, copies, cache):
    """Training and validation sets, cached in `cache` (an .npz) once made."""
    if os.path.exists(cache):
        z = np.load(cache, allow_pickle=True)
        return z["train"].item(), z["val"].item(), list(z["holdout"])
    rng = random.Random(seed)
    train, val, holdout = [], [], []
    for d in crops_dirs:
        name = os.path.basename(os.path.normpath(d))
        held = held_out_plates(d)
        holdout += [f"{name}\t{k}" for k in sorted(held)]
        for key, kind, img, label in real_samples(d):
            h = height_of(kind)
            if key in held:
                val.append((kind, synth.to_input(img, h), label))
                continue
            train.append((kind, synth.to_input(img, h), label))
            for _ in range(copies):
                train.append((kind, synth.to_input(light_damage(img, rng), h), label))
    real_train = len(train)
    train += synthetic(seed, n_synth)
    synth_val = synthetic(seed + 1, 1000)
    print(f"real: {real_train} training samples ({copies} copies each), {len(val)} held out; "
          f"synthetic: {len(train) - real_train} training, {len(synth_val)} validation")
    tr, va = pack(train), {"real": pack(val), "synth": pack(synth_val)}
    holdout = sorted(set(holdout))
    np.savez(cache, train=np.array(tr, dtype=object), val=np.array(va, dtype=object),
             holdout=np.array(holdout))
    return tr, va, holdout
