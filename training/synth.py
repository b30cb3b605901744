"""Synthetic Vietnamese (and foreign) plates for training the plate reader.

Owns: drawing a plate (layout, colours, font, the province and series tables of src/plate),
cutting out what the product's reader is fed (each text line, or the whole plate), and the
camera's damage to it (perspective, blur, low resolution, noise, dirt, glare, night, JPEG).
Every sample comes from a `random.Random` the caller seeds, so a seed gives the same data.

A sample is (kind, grey uint8 array, label): kind "line" is 32x128, kind "plate1" is a one-line
plate at 32x128, kind "plate2" a two-line plate at 64x128; the label is the plate's characters
as in a canonical key (A-Z, 0-9; separators are drawn but not labelled).
"""

import io
import math
import os
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
SRC_PLATE = os.path.join(HERE, "..", "src", "plate")
CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LINE_H, WIDTH = 32, 128
# Height a text line is drawn at before the camera's damage shrinks it.
LINE_DRAWN = 44

# Fonts from Debian packages (fonts-dejavu-core, fonts-liberation, fonts-roboto-unhinted,
# fonts-freefont-ttf, fonts-noto-core); missing ones are skipped.
FONT_FILES = [
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Regular.ttf",
    "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Medium.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
]


def fonts():
    found = [f for f in FONT_FILES if os.path.exists(f)]
    if not found:
        raise SystemExit("no fonts found: install fonts-dejavu-core fonts-liberation "
                         "fonts-roboto-unhinted fonts-freefont-ttf fonts-noto-core")
    return found


def _table(name):
    rows = []
    with open(os.path.join(SRC_PLATE, name), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.strip() and not line.startswith("#"):
                rows.append(line.split("\t"))
    return rows


PROVINCES = [r[0] for r in _table("provinces.tsv")]
SPECIAL_SERIES = [(r[0], r[1]) for r in _table("series.tsv")]
SERIES_LETTERS = [c for c in "ABCDEFGHKLMNPRSTUVXYZ"]

# (background, text) colours: private white, commercial yellow, state blue, military red.
COLOURS = [((235, 235, 230), (20, 20, 20))] * 6 + [
    ((230, 190, 40), (20, 20, 20)),
    ((230, 190, 40), (20, 20, 20)),
    ((25, 60, 150), (240, 240, 240)),
    ((170, 30, 30), (240, 240, 240)),
]


def vn_plate(rng):
    """A Vietnamese plate: (layout, top text, bottom text or None, label)."""
    province = rng.choice(PROVINCES) if rng.random() < 0.9 else "%02d" % rng.randint(11, 99)
    serial = "".join(rng.choice("0123456789") for _ in range(5 if rng.random() < 0.8 else 4))
    shown_serial = serial[:3] + "." + serial[3:] if len(serial) == 5 else serial
    kind = rng.random()
    if kind < 0.55:  # motorbike: letter + digit, two lines
        if rng.random() < 0.12:
            key, shown = rng.choice(SPECIAL_SERIES)
            series, series_shown = key, shown.replace("Đ", "D")
        else:
            letter = rng.choice(SERIES_LETTERS)
            digit = rng.choice("123456789") if rng.random() < 0.85 else rng.choice(SERIES_LETTERS)
            series = series_shown = letter + digit
        dash = "-" if rng.random() < 0.8 else (" " if rng.random() < 0.5 else "")
        top = province + dash + series_shown
        return "two", top, shown_serial, province + series + serial
    if rng.random() < 0.12:
        key, shown = rng.choice(SPECIAL_SERIES)
        series, series_shown = key, shown.replace("Đ", "D")
    else:
        series = series_shown = rng.choice(SERIES_LETTERS)
    if kind < 0.85:  # car, one line
        sep = "-" if rng.random() < 0.85 else " "
        return "one", province + series_shown + sep + shown_serial, None, province + series + serial
    return "two", province + series_shown, shown_serial, province + series + serial


def foreign_plate(rng):
    """A one-line plate of another country: letters and digits in groups."""
    n = rng.randint(4, 8)
    groups, left = [], n
    while left > 0:
        g = min(left, rng.randint(1, 4))
        kind = rng.random()
        alphabet = CHARSET[10:] if kind < 0.45 else CHARSET[:10] if kind < 0.9 else CHARSET
        groups.append("".join(rng.choice(alphabet) for _ in range(g)))
        left -= g
    sep = rng.choice([" ", "-", " ", ""])
    text = sep.join(groups)
    return "one", text, None, text.replace(" ", "").replace("-", "")


def _text_image(text, font_file, height, fg, bg):
    """The text drawn at `height` px cap height, tightly cropped, on `bg`."""
    font = ImageFont.truetype(font_file, int(height * 1.35))
    box = font.getbbox(text)
    w, h = box[2] - box[0] + 4, box[3] - box[1] + 4
    img = Image.new("RGB", (w, h), bg)
    ImageDraw.Draw(img).text((2 - box[0], 2 - box[1]), text, font=font, fill=fg)
    return img


def draw_plate(rng, layout, top, bottom, font_file):
    """The plate at about 100 px per line: image and the boxes of its lines."""
    bg, fg = rng.choice(COLOURS)
    lines = [top] if bottom is None else [top, bottom]
    line_h = LINE_DRAWN
    imgs = []
    for text in lines:
        t = _text_image(text, font_file, line_h, fg, bg)
        squeeze = rng.uniform(0.75, 1.1)
        imgs.append(t.resize((max(8, int(t.width * squeeze)), line_h)))
    text_w = max(i.width for i in imgs)
    pad_x = int(line_h * rng.uniform(0.15, 0.45))
    pad_y = int(line_h * rng.uniform(0.12, 0.3))
    gap = int(line_h * rng.uniform(0.1, 0.3))
    band = int(line_h * 0.55) if (bottom is None and rng.random() < 0.15) else 0
    w = text_w + 2 * pad_x + band
    h = len(imgs) * line_h + (len(imgs) - 1) * gap + 2 * pad_y
    plate = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(plate)
    if band:  # a blue country band on the left, as on European plates
        d.rectangle([0, 0, band, h], fill=(30, 60, 170))
    border = max(2, int(line_h * rng.uniform(0.03, 0.08)))
    d.rectangle([border // 2, border // 2, w - border // 2 - 1, h - border // 2 - 1],
                outline=fg, width=border)
    boxes = []
    y = pad_y
    for img in imgs:
        x = band + pad_x + (text_w - img.width) // 2
        plate.paste(img, (x, y))
        boxes.append((x, y, x + img.width, y + line_h))
        y += line_h + gap
    if rng.random() < 0.3:  # screws or rivets
        for sx in (w * 0.25, w * 0.75):
            r = line_h * 0.06
            cy = pad_y * 0.5
            d.ellipse([sx - r, cy - r, sx + r, cy + r], fill=(120, 120, 120))
    return plate, boxes


def _perspective(img, rng, strength):
    w, h = img.size
    j = lambda s: rng.uniform(-s, s)
    quad = [j(strength * w), j(strength * h), j(strength * w), h + j(strength * h),
            w + j(strength * w), h + j(strength * h), w + j(strength * w), j(strength * h)]
    return img.transform((w, h), Image.QUAD, quad, Image.BILINEAR)


def damage(img, rng):
    """Camera damage on an RGB crop; returns a grey PIL image."""
    if rng.random() < 0.7:
        img = _perspective(img, rng, 0.04)
    if rng.random() < 0.5:
        img = img.rotate(rng.uniform(-4, 4), resample=Image.BILINEAR, expand=False,
                         fillcolor=tuple(int(v) for v in np.asarray(img).reshape(-1, 3).mean(0)))
    arr = np.asarray(img).astype(np.float32)
    if rng.random() < 0.25:  # dirt: dark blotches
        for _ in range(rng.randint(1, 6)):
            h, w = arr.shape[:2]
            cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.02, 0.12) * h
            yy, xx = np.ogrid[:h, :w]
            m = ((xx - cx) ** 2 + (yy - cy) ** 2) < r * r
            arr[m] *= rng.uniform(0.3, 0.8)
    night = rng.random() < 0.25
    if night:
        arr *= rng.uniform(0.2, 0.5)
    if rng.random() < 0.2:  # glare: a bright soft spot
        h, w = arr.shape[:2]
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.6) * h
        yy, xx = np.mgrid[:h, :w]
        g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
        arr += g[..., None] * rng.uniform(80, 220)
    contrast = rng.uniform(0.6, 1.2)
    arr = (arr - arr.mean()) * contrast + arr.mean() + rng.uniform(-30, 30)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    # Low resolution: the text line comes to 8-40 px high at the camera.
    scale = rng.uniform(8, 40) / LINE_DRAWN
    small = (max(4, int(img.width * scale)), max(4, int(img.height * scale)))
    img = img.resize(small, Image.BILINEAR)
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.2)))
    if rng.random() < 0.3:  # motion blur along x
        k = rng.randint(2, 4)
        a = np.asarray(img).astype(np.float32)
        a = sum(np.roll(a, i, axis=1) for i in range(k)) / k
        img = Image.fromarray(a.astype(np.uint8))
    arr = np.asarray(img).astype(np.float32)
    arr += np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(0, 12 if night else 6), arr.shape)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=rng.randint(25, 90))
    return Image.open(io.BytesIO(buf.getvalue())).convert("L")


def _jitter_box(rng, box, line_h, bounds):
    x1, y1, x2, y2 = box
    ex = lambda s: rng.uniform(-0.06, s) * line_h
    x1, x2 = x1 - ex(0.35), x2 + ex(0.35)
    y1, y2 = y1 - ex(0.25), y2 + ex(0.25)
    w, h = bounds
    return (max(0, x1), max(0, y1), min(w, x2), min(h, y2))


def to_input(img, height):
    """A grey PIL image squeezed to `height` x 128, as uint8."""
    return np.asarray(img.resize((WIDTH, height), Image.BILINEAR), dtype=np.uint8)


def sample(rng, font_files):
    """One training sample: (kind, uint8 array, label)."""
    if rng.random() < 0.82:
        layout, top, bottom, label = vn_plate(rng)
    else:
        layout, top, bottom, label = foreign_plate(rng)
    plate, boxes = draw_plate(rng, layout, top, bottom, rng.choice(font_files))
    if rng.random() < 0.5:  # one text line, as the line finder cuts it
        i = rng.randrange(len(boxes))
        crop = plate.crop(_jitter_box(rng, boxes[i], LINE_DRAWN, plate.size))
        text = top if i == 0 else bottom
        lab = "".join(c for c in text.upper() if c in CHARSET)
        return "line", to_input(damage(crop, rng), LINE_H), lab
    # The whole plate, as the plate detector boxes it (with a margin of background).
    m = rng.uniform(-0.02, 0.12)
    w, h = plate.size
    canvas = Image.new("RGB", (int(w * (1 + 2 * m)) + 2, int(h * (1 + 2 * m)) + 2),
                       tuple(rng.randint(30, 200) for _ in range(3)))
    canvas.paste(plate, (int(w * m) + 1, int(h * m) + 1))
    kind = "plate1" if bottom is None else "plate2"
    return kind, to_input(damage(canvas, rng), LINE_H if bottom is None else 2 * LINE_H), label
