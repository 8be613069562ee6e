"""Folders of real photos in the layout extraction reads, made of links: any number of images
from a small set, for timings that need more rows than the set has."""

from __future__ import annotations

from pathlib import Path


def linked_folder(photos: Path, target: Path, count: int, damaged_every: int = 0) -> Path:
    """`count` links to the JPEGs of `photos`' class folders, cycled with their classes taking
    turns; one in ten in validation/, of every class. With `damaged_every`, that one in so many
    is instead a copy cut short, which decodes with libjpeg's "premature end of data segment"
    warning (as some of PetImages' photos do)."""
    by_class = {}
    for path in sorted(photos.resolve().glob("*/*/*.jpg")):
        by_class.setdefault(path.parent.name, []).append(path)
    files = [path for group in zip(*by_class.values(), strict=False) for path in group]  # the smallest class sets it
    for i in range(count):
        source = files[i % len(files)]
        split = "validation" if i % 10 in (0, 5) else "train"
        folder = target / split / source.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        if damaged_every and i % damaged_every == damaged_every - 1:
            whole = source.read_bytes()
            (folder / f"{i:06d}-{source.name}").write_bytes(whole[: len(whole) // 2] + whole[-2:])
        else:
            (folder / f"{i:06d}-{source.name}").symlink_to(source)
    return target
