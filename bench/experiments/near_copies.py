"""Issue 33: which near-duplicate test holds on every kind of image. The generated near-copies
(`EDITS`, used by the tests too), and the measurement of each design on them and on real caches.

    python -m bench.experiments.near_copies cases <folder of class folders> <out> [per class]
        writes <out>: per class, `per class` originals of the folder, each with its EDITS
    python -m bench.experiments.near_copies measure <cases out> <cache out> [<cache out> ...]
        each design's flagged pairs on each cache, precision and recall on the cases' cache
        (a pair is a copy when both names share an original), seconds; and
        and RENDERED/<cache folder>_<design>_top20.png, the 20 pairs most alike to the network that
        each design flags, to look at
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
import scipy.fft
from PIL import Image, ImageEnhance, ImageOps

import cache
from audit import find, pixels
from extract.reading.thumbnails import Thumbnails
from workflow.paths import Paths

RENDERED = "/tmp/near_copies"  # the montages looked at: <cache folder>_<design>_top20.png


def _jpeg(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=40)
    return Image.open(io.BytesIO(buffer.getvalue()))


def _crop(image: Image.Image) -> Image.Image:
    width, height = image.size
    dx, dy = round(0.025 * width), round(0.025 * height)  # 5% of each side's length, half at each end
    return image.crop((dx, dy, width - dx, height - dy))


EDITS = {
    "jpeg40": _jpeg,
    "resized": lambda image: image.resize((round(0.9 * image.width), round(0.9 * image.height))).resize(image.size),
    "cropped": _crop,
    "brighter": lambda image: ImageEnhance.Brightness(image).enhance(1.15),
    "contrast": lambda image: ImageEnhance.Contrast(image).enhance(1.2),
    "mirrored": ImageOps.mirror,
}


def write_cases(source: Path, out: Path, per_class: int) -> None:
    """Each class's first `per_class` images (by name) and their edits, as <class>/<stem>.<edit>.png."""
    for folder in sorted(d for d in source.iterdir() if d.is_dir()):
        (out / folder.name).mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.iterdir())[:per_class]:
            image = Image.open(path).convert("RGB")
            image.save(out / folder.name / f"{path.stem}.original.png")
            for name, edit in EDITS.items():
                edit(image).convert("RGB").save(out / folder.name / f"{path.stem}.{name}.png")


# --- the designs ---------------------------------------------------------------------------


def phash_bits(grey: np.ndarray, side: int) -> np.ndarray:
    """(N, 64) bool: the perceptual hash (the 8 × 8 lowest DCT frequencies against their median)."""
    dct = scipy.fft.dctn(grey.reshape(-1, side, side).astype(np.float32), axes=(1, 2), norm="ortho")[:, :8, :8]
    low = dct.reshape(len(grey), -1)
    return low > np.median(low[:, 1:], axis=1, keepdims=True)


def phash_match(bits: np.ndarray, mirrored: np.ndarray, first, second) -> np.ndarray:
    """(P,) the fewest differing bits, the second image as it is or mirrored."""
    return np.minimum((bits[first] != bits[second]).sum(1), (bits[first] != mirrored[second]).sum(1))


def other_class_margin(data: find.Pooled) -> np.ndarray:
    """(N,) each image's cosine similarity to its nearest image of another class."""
    out = np.zeros(len(data.ids), np.float32)
    for block in range(0, len(data.ids), 1024):
        sims = data.features[block : block + 1024] @ data.features.T
        sims[data.labels[block : block + 1024, None] == data.labels[None, :]] = -1
        out[block : block + 1024] = sims.max(axis=1)
    return out


def grey_of(meta: dict, out: Path, ids: list[str], side: int) -> np.ndarray:
    source = Thumbnails(meta, out)
    return np.stack([pixels.fingerprint(source.image(item), side) for item in ids])


def measure(cases: Path, outs: list[Path]) -> None:
    rows = []
    for out in [cases, *outs]:
        path = Paths(out).cache
        meta = cache.info(path)
        data = find.pooled(path)
        started = time.perf_counter()
        wide = find.feature_pairs(data, 0.75, jobs=1)
        seconds_candidates = time.perf_counter() - started
        involved = np.unique(np.concatenate([wide.first, wide.second]))
        started = time.perf_counter()
        grey = {side: np.zeros((len(data.ids), side * side), np.uint8) for side in (16, 32)}
        for side in grey:
            grey[side][involved] = grey_of(meta, out, [data.ids[i] for i in involved], side)
        seconds_decode = time.perf_counter() - started
        first, second, cosine = wide.first, wide.second, wide.similarity
        seconds = {}
        started = time.perf_counter()
        corr = {side: pixels.correlation(pixels.standardised(g), first, second, side) for side, g in grey.items()}
        seconds["both thumbnail correlations"] = time.perf_counter() - started
        started = time.perf_counter()
        bits = phash_bits(grey[32], 32)
        mirrored = phash_bits(grey[32].reshape(-1, 32, 32)[:, :, ::-1].reshape(len(grey[32]), -1), 32)
        hamming = phash_match(bits, mirrored, first, second)
        seconds["phash"] = time.perf_counter() - started
        started = time.perf_counter()
        margin = other_class_margin(data)
        nearest_other = np.maximum(margin[first], margin[second])
        seconds["nearest other class"] = time.perf_counter() - started
        print({"cache": out.name} | {k: round(v, 2) for k, v in seconds.items()}, flush=True)
        designs = {
            "cosine >= 0.9 (current)": cosine >= 0.9,
            "cosine >= 0.8, thumbnail 16 corr >= 0.9": (cosine >= 0.8) & (corr[16] >= 0.9),
            "cosine >= 0.75, thumbnail 16 corr >= 0.9": corr[16] >= 0.9,
            "cosine >= 0.8, thumbnail 32 corr >= 0.9": (cosine >= 0.8) & (corr[32] >= 0.9),
            "cosine >= 0.8, phash <= 10 bits": (cosine >= 0.8) & (hamming <= 10),
            "cosine >= 0.8, 1-cos <= 0.5 (1-nearest other class)": (cosine >= 0.8)
            & (1 - cosine <= 0.5 * (1 - nearest_other)),
            "cosine >= 0.8, 1-cos <= 0.25 (1-nearest other class)": (cosine >= 0.8)
            & (1 - cosine <= 0.25 * (1 - nearest_other)),
        }
        for name, flagged in designs.items():
            row = {"cache": out.name, "design": name, "flagged": int(flagged.sum()), "images": len(data.ids)}
            row["images flagged"] = len(np.unique(np.concatenate([first[flagged], second[flagged]])))
            if out == cases:
                stem = np.array([item.rsplit(".", 2)[0] for item in data.ids])
                copy = stem[first] == stem[second]
                originals = len(np.unique(stem))
                edit_pairs = originals * len(EDITS) * (len(EDITS) + 1) // 2
                row["precision"] = round(float((flagged & copy).sum() / max(flagged.sum(), 1)), 3)
                row["recall (all pairs of one original)"] = round(float((flagged & copy).sum() / edit_pairs), 3)
                original = np.array([item.endswith(".original.png") for item in data.ids])
                edit_of = np.array([item.rsplit(".", 2)[1] for item in data.ids])
                for edit in EDITS:
                    hit = copy & (
                        (original[first] & (edit_of[second] == edit)) | (original[second] & (edit_of[first] == edit))
                    )
                    row[f"recall {edit}"] = round(float((flagged & hit).sum() / originals), 3)
            rows.append(row)
            print(row, flush=True)
        print(
            {
                "cache": out.name,
                "seconds candidates": round(seconds_candidates, 2),
                "seconds decode (both sides)": round(seconds_decode, 2),
                "candidates": len(first),
                "images decoded": len(involved),
            },
            flush=True,
        )
        shown = {
            "thumbnail": designs["cosine >= 0.8, thumbnail 16 corr >= 0.9"],
            "phash": designs["cosine >= 0.8, phash <= 10 bits"],
            "margin": designs["cosine >= 0.8, 1-cos <= 0.5 (1-nearest other class)"],
            "features_alone": (cosine >= 0.9) & ~designs["cosine >= 0.8, thumbnail 16 corr >= 0.9"],
        }
        for name, flagged in shown.items():  # the 20 most alike to the network of each
            top = np.flatnonzero(flagged)[np.argsort(-cosine[flagged], kind="stable")][:20]
            pairs = [(data.ids[first[k]], data.ids[second[k]], cosine[k], corr[16][k], hamming[k]) for k in top]
            if pairs:
                montage(meta, out, pairs, Path(RENDERED) / f"{out.name}_{name}_top20.png")


def montage(meta: dict, out: Path, pairs: list, path: Path) -> None:
    """The pairs side by side, four pairs a row, each captioned by its cosine and correlation."""
    from PIL import ImageDraw

    source, tile = Thumbnails(meta, out), 128
    sheet = Image.new("RGB", (4 * (2 * tile + 16), max(1, (len(pairs) + 3) // 4) * (tile + 28)), "white")
    for k, (a, b, cosine, corr, bits) in enumerate(pairs):
        x, y = (k % 4) * (2 * tile + 16), (k // 4) * (tile + 28)
        for j, item in enumerate((a, b)):
            image = Image.open(io.BytesIO(source.jpeg(item)))
            sheet.paste(image, (x + j * tile, y))
        ImageDraw.Draw(sheet).text((x, y + tile + 2), f"cos {cosine:.3f} corr {corr:.3f} phash {bits}", fill="black")
        ImageDraw.Draw(sheet).text((x, y + tile + 14), f"{Path(a).name[:18]} {Path(b).name[:18]}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


if __name__ == "__main__":
    if sys.argv[1] == "cases":
        write_cases(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 10)
    else:
        measure(Path(sys.argv[2]), [Path(item) for item in sys.argv[3:]])
