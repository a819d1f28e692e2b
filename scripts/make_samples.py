#!/usr/bin/env python3
"""Generates the bundled demo photos (samples/) and the tiny image fixtures the Imaging tests
read (Tests/ImagingTests/Fixtures/). Deterministic (fixed seeds); rerun after changing it and
commit the outputs. Needs numpy and Pillow (`pip install pillow`) — for generating only: the
Swift code never runs Python.

The demo subject is a made-up toy ("the orange planet toy"): an orange shaded ball with a
teal ring, two dark eyes and stubby feet, photographed on different backgrounds, sizes and
positions, as a user's phone photos of one object would be. Later the samples are replaced by
renders of a procedural world.
"""
import io
import os

import numpy as np
from PIL import Image, ImageOps

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SAMPLES = os.path.join(ROOT, "samples")
FIXTURES = os.path.join(ROOT, "Tests", "ImagingTests", "Fixtures")


# ---------------------------------------------------------------------------------------------
# Demo photos

def background(kind, w, h, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "sky":  # blue gradient over a grey floor
        t = (y / h)[..., None]
        img = (1 - t) * np.array([110, 160, 230]) + t * np.array([200, 220, 245])
        floor = y > h * 0.7
        img[floor] = np.array([150, 150, 150]) + 20 * ((y[floor] - h * 0.7) / (h * 0.3))[..., None]
    elif kind == "wood":  # a table with grain
        grain = np.sin(x / 9.0 + 3 * np.sin(y / 60.0)) * 0.5 + 0.5
        img = np.stack([150 + 50 * grain, 95 + 35 * grain, 50 + 20 * grain], -1)
    elif kind == "grass":
        noise = rng.normal(0, 1, (h // 8 + 1, w // 8 + 1))
        noise = np.kron(noise, np.ones((8, 8)))[:h, :w]
        img = np.stack([70 + 15 * noise, 140 + 25 * noise, 60 + 10 * noise], -1)
    elif kind == "checker":  # a kitchen floor
        c = ((x // 48 + y // 48) % 2)[..., None]
        img = c * np.array([235, 235, 225]) + (1 - c) * np.array([60, 60, 70])
    else:  # "wall": a flat pastel wall with soft vignette
        r = np.hypot(x - w / 2, y - h / 2) / np.hypot(w / 2, h / 2)
        img = np.array([225, 200, 215]) * (1 - 0.25 * r[..., None] ** 2)
    return img.astype(np.float32)


def draw_toy(img, cx, cy, radius, alpha=None):
    """Paints the toy onto img (H, W, 3 float); also into alpha (H, W) when given."""
    h, w, _ = img.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = (x - cx) / radius, (y - cy) / radius
    # feet: two dark ellipses under the ball
    for side in (-0.45, 0.45):
        foot = ((dx - side) / 0.3) ** 2 + ((dy - 0.95) / 0.16) ** 2 < 1
        img[foot] = [60, 40, 30]
        if alpha is not None: alpha[foot] = 255
    # body: a sphere lit from the upper left
    r2 = dx ** 2 + dy ** 2
    body = r2 < 1
    nz = np.sqrt(np.clip(1 - r2, 0, 1))
    light = np.clip(-0.5 * dx - 0.6 * dy + 0.62 * nz, 0, 1)
    shade = 0.35 + 0.75 * light
    orange = np.array([240, 120, 30], np.float32)
    img[body] = (orange * shade[..., None])[body]
    spec = body & ((dx + 0.35) ** 2 + (dy + 0.4) ** 2 < 0.02)
    img[spec] = [255, 240, 220]
    # the ring: a tilted ellipse band, in front of the lower half
    ring = np.abs(np.hypot(dx / 1.45, (dy - 0.1) / 0.38) - 1) < 0.09
    front = ring & ((dy > 0.05) | ~body)
    img[front] = [20, 170, 160]
    # eyes
    for side in (-0.3, 0.3):
        eye = (dx - side) ** 2 + (dy + 0.25) ** 2 < 0.012
        img[eye] = [25, 25, 35]
    if alpha is not None:
        alpha[body | front] = 255


def save_jpeg(img, path, exif_orientation=None, quality=82):
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    im.save(path, "JPEG", quality=quality, optimize=True, **kwargs)


def make_samples():
    os.makedirs(SAMPLES, exist_ok=True)
    rng = np.random.default_rng(7)
    shots = [  # name, background, size, centre (fractions), radius (fraction of short side)
        ("toy-sky.jpg", "sky", (512, 512), (0.5, 0.55), 0.28),
        ("toy-table.jpg", "wood", (512, 512), (0.38, 0.5), 0.22),
        ("toy-grass.jpg", "grass", (512, 512), (0.62, 0.6), 0.3),
        ("toy-kitchen.jpg", "checker", (768, 576), (0.45, 0.5), 0.3),
        ("toy-closeup.jpg", "wall", (576, 704), (0.5, 0.5), 0.4),
    ]
    for name, kind, (w, h), (fx, fy), fr in shots:
        img = background(kind, w, h, rng)
        draw_toy(img, fx * w, fy * h, fr * min(w, h))
        save_jpeg(img, os.path.join(SAMPLES, name))

    # A phone photo held sideways: the scene is 576 wide × 768 tall, the sensor stored it
    # 768 × 576 rotated, with EXIF orientation 6 ("rotate 90° clockwise to view").
    upright = background("sky", 576, 768, rng)
    draw_toy(upright, 288, 456, 180)
    stored = np.rot90(upright, k=1)  # counter-clockwise: undoing it needs a clockwise turn
    save_jpeg(stored, os.path.join(SAMPLES, "toy-phone-rotated.jpg"), exif_orientation=6)
    check = ImageOps.exif_transpose(Image.open(os.path.join(SAMPLES, "toy-phone-rotated.jpg")))
    assert check.size == (576, 768), check.size

    # A cut-out with transparency (a PNG from a "remove background" tool): composited on white.
    w = h = 512
    img = np.full((h, w, 3), 255, np.float32)
    alpha = np.zeros((h, w), np.uint8)
    draw_toy(img, 256, 240, 176, alpha)
    rgba = np.dstack([np.clip(img, 0, 255).astype(np.uint8), alpha])
    # Posterise a little so that the PNG stays small.
    rgba[..., :3] = (rgba[..., :3] // 4) * 4
    Image.fromarray(rgba).save(os.path.join(SAMPLES, "toy-cutout.png"), optimize=True)

    with open(os.path.join(SAMPLES, "toy-kitchen.txt"), "w") as f:
        f.write("a photo of sks toy on a kitchen floor\n")
    for name in sorted(os.listdir(SAMPLES)):
        size = os.path.getsize(os.path.join(SAMPLES, name))
        assert size <= 80 * 1024, f"{name} is {size} bytes"
        print(f"samples/{name}: {size} bytes")


# ---------------------------------------------------------------------------------------------
# Test fixtures

# The canonical upright picture for the orientation fixtures: 24 wide × 16 tall, four solid
# quadrants (top-left red, top-right green, bottom-left blue, bottom-right yellow).
def quadrants(w=24, h=16):
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = [255, 0, 0]
    img[: h // 2, w // 2:] = [0, 255, 0]
    img[h // 2:, : w // 2] = [0, 0, 255]
    img[h // 2:, w // 2:] = [255, 255, 0]
    return Image.fromarray(img)


# The transpose PIL's exif_transpose applies for each tag, and its inverse.
TO_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}
INVERSE = {
    Image.Transpose.FLIP_LEFT_RIGHT: Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.ROTATE_180: Image.Transpose.ROTATE_180,
    Image.Transpose.FLIP_TOP_BOTTOM: Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.TRANSPOSE: Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270: Image.Transpose.ROTATE_90,
    Image.Transpose.TRANSVERSE: Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90: Image.Transpose.ROTATE_270,
}


def make_fixtures():
    os.makedirs(FIXTURES, exist_ok=True)
    upright = quadrants()
    for tag in range(1, 9):
        stored = upright if tag == 1 else upright.transpose(INVERSE[TO_UPRIGHT[tag]])
        exif = Image.Exif()
        exif[0x0112] = tag
        path = os.path.join(FIXTURES, f"orientation-{tag}.jpg")
        stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
        # Pillow, reading it back, must see the upright picture: the fixture means what it says.
        back = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")).astype(int)
        assert back.shape == (16, 24, 3) and abs(back[4, 6] - [255, 0, 0]).max() < 40, tag

    # Gray JPEG, CMYK JPEG (Pillow writes Adobe APP14 with inverted inks, like Photoshop).
    Image.new("L", (20, 10), 128).save(os.path.join(FIXTURES, "gray.jpg"), quality=95)
    cmyk = Image.new("CMYK", (20, 10), (0, 255, 255, 0))  # pure red ink mix
    cmyk.save(os.path.join(FIXTURES, "cmyk-red.jpg"), quality=95)

    # A progressive JPEG and one with a comment segment before the image data.
    quadrants().save(os.path.join(FIXTURES, "progressive.jpg"), quality=90, progressive=True)

    # PNG variants: 16-bit gray, 8-bit gray, gray + alpha, RGBA, palette with transparency.
    ramp16 = (np.arange(32, dtype=np.uint32)[None, :] * 2114).repeat(8, 0).astype(np.uint16)
    Image.fromarray(ramp16).save(os.path.join(FIXTURES, "gray16.png"))
    Image.new("L", (12, 6), 200).save(os.path.join(FIXTURES, "gray8.png"))
    Image.new("LA", (12, 6), (0, 0)).save(os.path.join(FIXTURES, "gray-alpha-transparent.png"))
    rgba = np.zeros((8, 16, 4), np.uint8)
    rgba[:, :8] = [0, 0, 255, 255]     # left: opaque blue
    rgba[:, 8:] = [0, 0, 0, 128]       # right: half-transparent black over white -> ~grey 127
    Image.fromarray(rgba).save(os.path.join(FIXTURES, "rgba-half.png"))
    pal = Image.new("P", (10, 10), 1)
    pal.putpalette([255, 255, 255, 0, 128, 0] + [0] * 762)
    pal.info["transparency"] = 0
    pal.save(os.path.join(FIXTURES, "palette-green.png"), transparency=0)
    for name in sorted(os.listdir(FIXTURES)):
        print(f"fixtures/{name}: {os.path.getsize(os.path.join(FIXTURES, name))} bytes")


if __name__ == "__main__":
    make_samples()
    make_fixtures()
