"""Makes the strip-plate test set (tests/data/strip-plates): one-line foreign plates with a
strip of small text (a city name, a dealer's slogan, a web address) directly above or below
the plate, inside a plate-coloured frame, so the plate detector boxes plate and strip as one.

Two kinds of image:
- composites: a labelled one-line plate of an eval photo (openalpr/benchmarks endtoend/eu,
  AGPL-3.0) with the frame and strip painted around it; the photo is cut to at most 800x600
  around the plate;
- rendered scenes: a car-grey scene with a rendered plate (DejaVu Sans Bold from Debian's
  fonts-dejavu) and its strip.

Writes the JPEGs and labels.csv (file,plate,x,y,w,h: the plate's box, strip excluded).
Seeded, so the same inputs give the same files.

    training/.venv/bin/python training/make_strip_plates.py EU_DIR tests/data/strip-plates
"""

import csv
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SEED = 20261130
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_TEXT = "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf"
MAX_W, MAX_H = 800, 600

# (photo, strip text, "above" or "below")
COMPOSITES = [
    ("test_003.jpg", "LJUBLJANA", "above"),
    ("test_027.jpg", "www.avto-center.si", "below"),
    ("eu11.jpg", "AUTOHAUS MUSTERMANN", "above"),
    ("test_062.jpg", "Tel. 0602 555 210", "below"),
]

# (plate text as printed, key, country band or None, strip text, "above" or "below")
RENDERED = [
    ("M AB 4821", "MAB4821", "D", "MUENCHEN", "above"),
    ("HH KL 307", "HHKL307", "D", "AUTOHAUS NORD  Tel. 040 55 21", "below"),
    ("51A-123.45", "51A12345", None, "TOYOTA LY THUONG KIET", "below"),
]


def fit_font(path, text, max_w, max_h):
    """The largest size of `path` at which `text` fits in max_w x max_h."""
    size = max(int(max_h), 6)
    while size > 6:
        font = ImageFont.truetype(path, size)
        l, t, r, b = font.getbbox(text)
        if r - l <= max_w and b - t <= max_h:
            return font
        size -= 1
    return ImageFont.truetype(path, 6)


def draw_centred(draw, box, text, font, fill):
    x1, y1, x2, y2 = box
    l, t, r, b = font.getbbox(text)
    x = (x1 + x2 - (r - l)) / 2 - l
    y = (y1 + y2 - (b - t)) / 2 - t
    draw.text((x, y), text, font=font, fill=fill)


def plate_colour(img, box):
    """The plate's background: the mean of the brightest third of its pixels."""
    x, y, w, h = box
    crop = img.crop((x, y, x + w, y + h)).convert("RGB")
    px = sorted((crop.getpixel((i, j)) for j in range(h) for i in range(w)), key=sum)
    light = px[len(px) * 2 // 3 :] or px
    return tuple(sum(p[i] for p in light) // len(light) for i in range(3))


def strip_geometry(box, strip_h, m, where):
    """The frame (plate, strip and a margin `m`) and the strip's box, for a plate at `box`
    (x, y, w, h) with a strip `strip_h` high `where` ("above" or "below") it."""
    x, y, w, h = box
    if where == "above":
        return (x - m, y - strip_h - m, x + w + m, y + h + m), (x, y - strip_h, x + w, y - 1)
    return (x - m, y - m, x + w + m, y + h + strip_h + m), (x, y + h + 1, x + w, y + h + strip_h)


def add_strip(img, box, text, where, rng):
    """Paints the frame and the strip of text around the plate at `box` (x, y, w, h)."""
    x, y, w, h = box
    bg = plate_colour(img, box)
    strip_h = round(h * rng.uniform(0.55, 0.7))
    m = max(2, round(h * 0.08))
    frame, strip = strip_geometry((x, y, w, h), strip_h, m, where)
    plate = img.crop((x, y, x + w, y + h))
    draw = ImageDraw.Draw(img)
    draw.rectangle(frame, fill=bg)
    img.paste(plate, (x, y))
    font = fit_font(FONT_TEXT, text, w * 0.9, strip_h * 0.7)
    draw_centred(draw, strip, text, font, (25, 25, 30))


def cut_around(img, box):
    """The photo cut to at most MAX_W x MAX_H around the plate, and the plate's new box."""
    x, y, w, h = box
    cw, ch = min(img.width, MAX_W), min(img.height, MAX_H)
    left = min(max(0, x + w // 2 - cw // 2), img.width - cw)
    top = min(max(0, y + h // 2 - ch // 2), img.height - ch)
    return img.crop((left, top, left + cw, top + ch)), (x - left, y - top, w, h)


def render_scene(printed, country, strip_text, where, rng):
    """A red car rear with a white plate of `printed` (with a blue band of `country` if any)
    and its strip; the image and the plate's box."""
    W, H = 640, 480
    img = Image.new("RGB", (W, H), (96, 100, 104))
    draw = ImageDraw.Draw(img)
    # Road, car body, rear window, lights.
    draw.rectangle((0, 330, W, H), fill=(70, 72, 74))
    body = (110, 120, 530, 390)
    draw.rounded_rectangle(body, radius=30, fill=(150, 30, 35))
    draw.rounded_rectangle((150, 135, 490, 215), radius=18, fill=(40, 50, 60))
    draw.rectangle((125, 230, 185, 260), fill=(200, 40, 30))
    draw.rectangle((455, 230, 515, 260), fill=(200, 40, 30))
    draw.rectangle((100, 360, 540, 385), fill=(25, 25, 25))
    # The plate: white with a black border and the blue band.
    pw, ph = 232, 50
    px, py = (W - pw) // 2, 292 if where == "above" else 270
    strip_h = round(ph * 0.55)
    m = 4
    frame, strip = strip_geometry((px, py, pw, ph), strip_h, m, where)
    draw.rounded_rectangle(frame, radius=5, fill=(245, 245, 240), outline=(20, 20, 20), width=2)
    band = 0
    if country:
        band = 22
        draw.rectangle((px + 2, py + 2, px + band, py + ph - 2), fill=(20, 50, 160))
        small = ImageFont.truetype(FONT, 13)
        draw_centred(draw, (px + 2, py + ph - 20, px + band, py + ph - 4), country, small, (240, 240, 240))
    font = fit_font(FONT, printed, pw - band - 14, ph * 0.72)
    draw_centred(draw, (px + band + 4, py, px + pw - 4, py + ph), printed, font, (15, 15, 15))
    font = fit_font(FONT_TEXT, strip_text, pw * 0.9, strip_h * 0.7)
    draw_centred(draw, strip, strip_text, font, (25, 25, 30))
    # Camera blur and noise.
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    noisy = img.load()
    for _ in range(W * H // 6):
        x, y = rng.randrange(W), rng.randrange(H)
        d = rng.randint(-12, 12)
        noisy[x, y] = tuple(max(0, min(255, c + d)) for c in noisy[x, y])
    return img, (px, py, pw, ph)


def main():
    eu_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    labels = {}
    with open(eu_dir / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            labels[row["file"]] = (row["plate"], tuple(int(row[k]) for k in "xywh"))
    rows = []
    for i, (photo, text, where) in enumerate(COMPOSITES, 1):
        plate, box = labels[photo]
        img = Image.open(eu_dir / photo).convert("RGB")
        img, box = cut_around(img, box)
        add_strip(img, box, text, where, rng)
        name = f"strip{i:02d}_{Path(photo).stem}_{where}.jpg"
        img.save(out_dir / name, quality=85)
        rows.append((name, plate, *box))
    for i, (printed, key, country, text, where) in enumerate(RENDERED, 1):
        img, box = render_scene(printed, country, text, where, rng)
        name = f"rendered{i:02d}_{where}.jpg"
        img.save(out_dir / name, quality=85)
        rows.append((name, key, *box))
    with open(out_dir / "labels.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "plate", "x", "y", "w", "h"])
        w.writerows(rows)


if __name__ == "__main__":
    main()
