"""Image analysis behind the built-in pet generator: the colours, light and coat pattern of a photo.

``appearance_features(image_bytes)`` returns the ``appearance_features`` document of a generation
result. It is pure Pillow and deterministic (the same bytes always give the same dict: nothing
here is random), and it blocks, so async callers run it in a worker thread. The photo is shrunk
to ``ANALYSIS_SIZE`` pixels first (JPEG is even decoded at reduced scale), so a 24-megapixel
upload costs about what a thumbnail does.

How the pattern is guessed, on a map of which palette colour each pixel belongs to:

- the *minority mask* is every pixel not of the dominant colour;
- *striped*: its edges cross lines in one direction often (>= ``STRIPE_MIN_CROSSINGS`` times
  across the image) and lines along the perpendicular direction hardly ever (the ratio of the
  two crossing rates, sampled in 8 directions, is <= ``STRIPE_MAX_ANISOTROPY``);
- *spotted*: the minority is mostly (>= ``SPOT_MIN_SHARE_OF_MINORITY``) made of at least
  ``SPOT_MIN_COUNT`` compact, roundish, small blobs;
- *two-tone*: one coherent second region covers >= ``TWO_TONE_MIN_REGION`` of the image;
- *solid*: under ``SOLID_MAX_MINORITY`` of the pixels differ from the dominant colour, or it
  covers >= ``SOLID_MIN_SHARE`` and none of the above holds. A mixture that fits nothing gets the
  nearest name with confidence 0.3. Transparent pixels (cut-out PNGs) are left out.

``pattern_details.angle`` is the direction of the stripes (or of the two-tone border) on screen, in
degrees counter-clockwise from horizontal: 0 horizontal, 90 vertical, 135 top left to bottom right.
"""

from __future__ import annotations

import colorsys
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageChops, ImageFilter, ImageStat

ANALYSIS_SIZE = 128  # longest side, in pixels, of the image actually analysed
PALETTE_COLORS = 16  # median-cut palette size before near-identical entries are merged
# "Redmean" RGB distance (about 3x a per-channel difference) under which two palette entries are
# shades of one colour: lighting and fur texture split one coat colour into several entries.
MERGE_DISTANCE = 100.0
# Two clusters whose shared boundary is crossed by average steps under GRADUAL_STEP are one colour
# under changing light, as long as they are not further apart than GRADUAL_MAX_DISTANCE.
GRADUAL_STEP = 40.0
GRADUAL_MAX_DISTANCE = 300.0
GRADUAL_MIN_BOUNDARY = 8  # neighbouring pixel pairs; a shorter boundary says nothing
PALETTE_SIZE = 5
SECONDARY_MIN_SHARE = 0.03  # below this, the "second colour" is noise: a shade of the first is used

SOLID_MIN_SHARE = 0.75
SOLID_MAX_MINORITY = 0.05
STRIPE_MIN_CROSSINGS = 4.0  # at least two stripes of the second colour across the image
STRIPE_MAX_ANISOTROPY = 0.4
STRIPE_MIN_MINORITY = 0.1
SPOT_MIN_COUNT = 4
SPOT_MIN_COMPACTNESS = 0.45  # blob area / bounding-box area; a disc is 0.785, a ring or a wisp far less
SPOT_MAX_ELONGATION = 3.0
SPOT_MAX_AREA = 0.1  # one spot covers at most this share of the image
SPOT_MIN_COVERAGE = 0.02
SPOT_MAX_COVERAGE = 0.5
SPOT_MIN_SHARE_OF_MINORITY = 0.6
TWO_TONE_MIN_REGION = 0.15
MIN_BLOB_SHARE = 0.001  # smaller blobs are texture or noise, not pattern

# Sampling directions (dx, dy) in image coordinates (y grows downwards).
DIRECTIONS = ((1, 0), (2, 1), (1, 1), (1, 2), (0, 1), (-1, 2), (-1, 1), (-2, 1))

RGB = tuple[int, int, int]


class UnreadableImageError(ValueError):
    """The bytes are not an image Pillow can decode."""


@dataclass(frozen=True)
class _Blob:
    area: int
    width: int
    height: int

    @property
    def compactness(self) -> float:
        return self.area / (self.width * self.height)

    @property
    def elongation(self) -> float:
        return max(self.width, self.height) / min(self.width, self.height)


def appearance_features(image: bytes) -> dict[str, Any]:
    """Analyse a JPEG/PNG/WebP photo into the ``appearance_features`` document (see module doc)."""
    rgb, opaque, width, height = _load(image)
    clusters, labels = _palette(rgb, opaque)
    dominant = clusters[0][0]
    if len(clusters) > 1 and clusters[1][1] >= SECONDARY_MIN_SHARE:
        secondary = clusters[1][0]
    else:
        secondary = _shade(dominant)
    top = clusters[:PALETTE_SIZE]
    top_total = sum(share for _, share in top)
    luma = ImageStat.Stat(rgb.convert("L"), opaque)
    saturation = ImageStat.Stat(rgb.convert("HSV").getchannel("S"), opaque).mean[0] / 255
    ratio = width / height
    return {
        "dominant_color": _hex(dominant),
        "secondary_color": _hex(secondary),
        "color_name": color_name(dominant),
        "secondary_color_name": color_name(secondary),
        "palette": [{"color": _hex(rgb_), "share": round(share / top_total, 4)} for rgb_, share in top],
        "brightness": round(luma.mean[0] / 255, 4),
        # A picture half black, half white has the largest possible deviation: 127.5.
        "contrast": round(min(1.0, luma.stddev[0] / 127.5), 4),
        "saturation": round(saturation, 4),
        **_pattern(labels),
        "aspect_ratio": round(ratio, 4),
        "orientation": "square" if abs(ratio - 1) <= 0.05 else ("landscape" if ratio > 1 else "portrait"),
        "width": width,
        "height": height,
    }


def color_name(rgb: RGB) -> str:
    """A plain-words name for a coat colour: black, white, grey, cream, brown, orange, golden, ..."""
    hue, sat, val = colorsys.rgb_to_hsv(*(channel / 255 for channel in rgb))
    hue *= 360
    if val < 0.18:
        return "black"
    if sat < 0.12 or (val < 0.35 and sat < 0.3):
        return "white" if val > 0.85 else ("black" if val < 0.25 else "grey")
    if 12 <= hue < 65 and sat < 0.4 and val > 0.75:
        return "cream"
    if 12 <= hue < 50:
        if val < 0.65:
            return "brown"
        return "orange" if hue < 40 else "golden"
    if hue < 12 or hue >= 345:
        if val < 0.45:
            return "brown"
        return "pink" if sat < 0.5 else "red"
    for upper, name in ((70, "yellow"), (170, "green"), (255, "blue"), (290, "purple")):
        if hue < upper:
            return name
    return "pink"


def _load(image: bytes) -> tuple[Image.Image, Image.Image | None, int, int]:
    """Decode and shrink; return the RGB image, its opaque-pixel mask (None: all opaque), the
    original size."""
    try:
        with Image.open(io.BytesIO(image)) as img:
            width, height = img.size
            img.draft("RGB", (ANALYSIS_SIZE * 2, ANALYSIS_SIZE * 2))  # JPEG only: DCT-domain downscale
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                rgb = Image.new("RGB", rgba.size, (255, 255, 255))
                rgb.paste(rgba, mask=rgba.getchannel("A"))
                alpha: Image.Image | None = rgba.getchannel("A")
            else:
                rgb, alpha = img.convert("RGB"), None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImageError(f"not a readable image: {exc}") from exc
    # BOX averages areas: no ringing that would invent thin light/dark bands at stripe edges.
    rgb.thumbnail((ANALYSIS_SIZE, ANALYSIS_SIZE), Image.Resampling.BOX)
    opaque = None
    if alpha is not None:
        opaque = alpha.resize(rgb.size, Image.Resampling.BOX).point(lambda a: 255 if a >= 128 else 0)
        if opaque.getextrema() != (0, 255):
            # Fully opaque, or fully transparent (nothing better to analyse than the pixels' colours).
            opaque = None
    return rgb, opaque, width, height


def _palette(rgb: Image.Image, opaque: Image.Image | None) -> tuple[list[tuple[RGB, float]], Image.Image]:
    """Colour clusters of the opaque pixels by share (largest first), and an "L" map of each
    pixel's cluster rank.

    Median cut splits one coat colour into several palette entries (lighting, fur texture); two
    clusters are merged while their colours are close, or while the image passes from one to the
    other by small steps (a shading gradient, unlike the sharp edge of a real marking).
    """
    quantized = rgb.quantize(colors=PALETTE_COLORS, method=Image.Quantize.MEDIANCUT)
    flat = quantized.getpalette() or []
    indices = Image.frombytes("L", quantized.size, quantized.tobytes())
    clusters = [
        _Cluster(count, [float(c) for c in flat[3 * index : 3 * index + 3]], [index])
        for index, count in enumerate(indices.histogram(mask=opaque))
        if count
    ]
    steps = _boundary_steps(rgb, indices)
    while len(clusters) > 1:
        candidates = []
        for a, b in itertools.combinations(clusters, 2):
            distance = _distance(a.rgb, b.rgb)
            touching = [steps[(i, j)] for i in a.members for j in b.members if (i, j) in steps]
            length = sum(n for _, n in touching)
            gradual = length >= GRADUAL_MIN_BOUNDARY and sum(t for t, _ in touching) / length < GRADUAL_STEP
            if distance < MERGE_DISTANCE or (gradual and distance < GRADUAL_MAX_DISTANCE):
                candidates.append((distance, min(a.members), min(b.members), a, b))
        if not candidates:
            break
        *_, a, b = min(candidates, key=lambda candidate: candidate[:3])
        total = a.count + b.count
        a.rgb = [(x * a.count + y * b.count) / total for x, y in zip(a.rgb, b.rgb, strict=True)]
        a.count, a.members = total, a.members + b.members
        clusters.remove(b)
    clusters.sort(key=lambda cluster: (-cluster.count, min(cluster.members)))
    lut = [0] * 256
    for rank, cluster in enumerate(clusters):
        for index in cluster.members:
            lut[index] = rank
    labels = indices.point(lut)
    if opaque is not None:
        # Transparent pixels count as the coat's main colour: they make no stripes or spots.
        labels.paste(0, mask=ImageChops.invert(opaque))
    # A 3x3 majority vote removes isolated pixels (noise, JPEG ringing) before shapes are measured.
    labels = labels.filter(ImageFilter.ModeFilter(3))
    pixels = sum(cluster.count for cluster in clusters)
    shares = [(_rounded(cluster.rgb), cluster.count / pixels) for cluster in clusters]
    return shares, labels


@dataclass
class _Cluster:
    count: int
    rgb: list[float]  # the count-weighted mean colour of its palette entries
    members: list[int]  # palette indices


def _boundary_steps(rgb: Image.Image, indices: Image.Image) -> dict[tuple[int, int], tuple[float, int]]:
    """For each pair of palette entries (i, j) with i != j that are neighbours somewhere in the
    image: the summed colour difference of those neighbouring pixels, and how many pairs there are.
    Both orders (i, j) and (j, i) are keys."""
    width = rgb.width
    colors, labels = rgb.tobytes(), indices.tobytes()
    totals: dict[tuple[int, int], list[float]] = {}
    for offset in (1, width):
        for p in range(len(labels) - offset):
            q = p + offset
            a, b = labels[p], labels[q]
            if a == b or (offset == 1 and q % width == 0):
                continue
            step = _distance(colors[3 * p : 3 * p + 3], colors[3 * q : 3 * q + 3])
            entry = totals.setdefault((min(a, b), max(a, b)), [0.0, 0])
            entry[0] += step
            entry[1] += 1
    steps: dict[tuple[int, int], tuple[float, int]] = {}
    for (a, b), (total, count) in totals.items():
        steps[(a, b)] = steps[(b, a)] = (total, int(count))
    return steps


def _distance(a: Sequence[float], b: Sequence[float]) -> float:
    """The "redmean" approximation of perceived RGB distance."""
    red_mean = (a[0] + b[0]) / 2
    dr, dg, db = a[0] - b[0], a[1] - b[1], a[2] - b[2]
    return math.sqrt((2 + red_mean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - red_mean) / 256) * db * db)


def _pattern(labels: Image.Image) -> dict[str, Any]:
    """Guess the coat pattern from the cluster map (thresholds in the module doc)."""
    width, height = labels.size
    pixels = width * height
    mask = labels.point([0] + [1] * 255)  # 1 where the pixel is not of the dominant colour
    minority = mask.histogram()[1] / pixels
    rates = {direction: _crossing_rate(mask, *direction) for direction in DIRECTIONS}
    across = max(DIRECTIONS, key=lambda d: (rates[d], -DIRECTIONS.index(d)))
    along = min(DIRECTIONS, key=lambda d: (rates[d], DIRECTIONS.index(d)))
    top_rate = rates[across]
    anisotropy = rates[along] / top_rate if top_rate else 1.0
    unit = math.hypot(*across)
    crossings = top_rate * (abs(across[0]) * width + abs(across[1]) * height) / unit
    angle = round(math.degrees(math.atan2(-along[1], along[0])) % 180, 1)
    short_side = min(width, height)

    min_blob = max(4, round(MIN_BLOB_SHARE * pixels))
    blobs = [blob for blob in _blobs(mask.tobytes(), width, height) if blob.area >= min_blob]
    spots = [
        blob
        for blob in blobs
        if blob.compactness >= SPOT_MIN_COMPACTNESS
        and blob.elongation <= SPOT_MAX_ELONGATION
        and blob.area <= SPOT_MAX_AREA * pixels
    ]
    minority_area = max(1, mask.histogram()[1])
    spot_share = sum(spot.area for spot in spots) / minority_area
    largest = max((blob.area for blob in blobs), default=0)

    details: dict[str, Any] = {
        "angle": 0.0,
        "stripe_count": 0,
        "spot_count": 0,
        "coverage": round(minority, 4),
        "scale": 1.0,
        "anisotropy": round(anisotropy, 4),
    }
    if minority < SOLID_MAX_MINORITY:
        kind, confidence = "solid", 0.5 + 0.5 * min(1.0, (1 - minority - SOLID_MIN_SHARE) / 0.25)
    elif (
        minority >= STRIPE_MIN_MINORITY
        and crossings >= STRIPE_MIN_CROSSINGS
        and anisotropy <= STRIPE_MAX_ANISOTROPY
    ):
        kind = "striped"
        confidence = (
            0.5 + 0.25 * (1 - anisotropy / STRIPE_MAX_ANISOTROPY) + 0.25 * min(1.0, crossings / 8 - 0.5)
        )
        details |= {
            "angle": angle,
            "stripe_count": int(crossings / 2 + 0.5),
            "scale": round(1 / top_rate / short_side, 4),  # one stripe's width, relative to the short side
        }
    elif (
        len(spots) >= SPOT_MIN_COUNT
        and SPOT_MIN_COVERAGE <= minority <= SPOT_MAX_COVERAGE
        and spot_share >= SPOT_MIN_SHARE_OF_MINORITY
    ):
        kind = "spotted"
        confidence = 0.5 + 0.25 * min(1.0, (len(spots) - SPOT_MIN_COUNT) / 8) + 0.25 * min(1.0, spot_share)
        diameter = sum(math.sqrt(4 * spot.area / math.pi) for spot in spots) / len(spots)
        details |= {"spot_count": len(spots), "scale": round(diameter / short_side, 4)}
    elif largest >= TWO_TONE_MIN_REGION * pixels:
        kind, confidence = "two-tone", 0.4 + 0.6 * largest / minority_area
        details |= {"angle": angle, "scale": round(largest / pixels, 4)}
    elif minority <= 1 - SOLID_MIN_SHARE:
        kind, confidence = "solid", 0.5 + 0.5 * (1 - minority - SOLID_MIN_SHARE) / 0.25
    else:
        # A fragmented mixture of colours: name the nearest pattern, and say we are unsure.
        kind = "spotted" if len(blobs) >= SPOT_MIN_COUNT else "two-tone"
        confidence = 0.3
        details |= {"spot_count": len(spots)}
    return {"pattern": kind, "pattern_confidence": round(min(1.0, confidence), 2), "pattern_details": details}


def _crossing_rate(mask: Image.Image, dx: int, dy: int) -> float:
    """Colour changes per pixel of length along direction (dx, dy), over the whole mask."""
    width, height = mask.size
    if abs(dx) >= width or dy >= height:
        return 0.0
    here = mask.crop((max(0, -dx), 0, width - max(0, dx), height - dy))
    there = mask.crop((max(0, dx), dy, width - max(0, -dx), height))
    changes = ImageChops.difference(here, there).histogram()[1]
    return changes / (here.width * here.height) / math.hypot(dx, dy)


def _blobs(mask: bytes, width: int, height: int) -> list[_Blob]:
    """4-connected components of the 1-pixels of a 0/1 mask."""
    todo = bytearray(mask)
    blobs = []
    for start in range(width * height):
        if not todo[start]:
            continue
        todo[start] = 0
        stack = [start]
        area, left, right, top, bottom = 0, width, -1, height, -1
        while stack:
            pixel = stack.pop()
            y, x = divmod(pixel, width)
            area += 1
            left, right, top, bottom = min(left, x), max(right, x), min(top, y), max(bottom, y)
            for neighbour, inside in (
                (pixel - 1, x > 0),
                (pixel + 1, x < width - 1),
                (pixel - width, y > 0),
                (pixel + width, y < height - 1),
            ):
                if inside and todo[neighbour]:
                    todo[neighbour] = 0
                    stack.append(neighbour)
        blobs.append(_Blob(area, right - left + 1, bottom - top + 1))
    return blobs


def _shade(rgb: RGB) -> RGB:
    """A second colour for a one-colour coat: darker if the coat is light, lighter if it is dark."""
    if sum(rgb) / 3 > 96:
        return (round(rgb[0] * 0.7), round(rgb[1] * 0.7), round(rgb[2] * 0.7))
    return (
        round(rgb[0] + (255 - rgb[0]) * 0.35),
        round(rgb[1] + (255 - rgb[1]) * 0.35),
        round(rgb[2] + (255 - rgb[2]) * 0.35),
    )


def _rounded(rgb: Sequence[float]) -> RGB:
    return (round(rgb[0]), round(rgb[1]), round(rgb[2]))


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)
