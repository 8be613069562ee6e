"""Which of the cache's feature blocks a head uses: the `FEATURES` setting, and the choice between
the last layer and every stored layer, made on the choice rows and never on the scored split.

On images like ImageNet's the last layer is as good as any; on images unlike them (microscopy,
scans) earlier layers add what the last one lost (Head2Toe, Evci et al. 2022). Which holds for a
dataset is measured, not assumed: each candidate set trains the head once with the first seed,
and the set with the lower log loss on the choice rows is kept (its run is the first run).
"""

from __future__ import annotations

from extract.backbones import DEFAULT
from extract.network.feature_source import LayersError, source_of

CHOOSE = "choose"


def candidates(setting: str, blocks: dict[str, int], backbone: str = DEFAULT) -> dict[str, tuple[str, ...]]:
    """{name: layers, in the cache's column order} for the FEATURES `setting` on a cache of `backbone`
    holding `blocks` ({name: width}): one set, or with `choose` the last layer and every stored layer
    (one set where the cache holds only one block)."""
    if setting == CHOOSE:
        stored = tuple(blocks)
        wanted = source_of("last", backbone).layers
        last = wanted if set(wanted) <= set(blocks) else stored[-1:]
        return {"last layer": last} | ({f"all {len(stored)} stored layers": stored} if stored != last else {})
    wanted = source_of(setting, backbone).layers
    missing = [name for name in wanted if name not in blocks]
    if missing:
        raise LayersError(
            f"FEATURES={setting}: the cache holds no {', '.join(missing)}; it holds {', '.join(blocks)} "
            "(extract them with `make features LAYERS=...`)"
        )
    return {setting: tuple(name for name in blocks if name in wanted)}


def described(name: str, layers: tuple[str, ...], blocks: dict[str, int], losses: dict[str, float], choose: str) -> str:
    """One line for the report: what the head uses and, where it chose, why."""
    width = sum(blocks[layer] for layer in layers)
    used = f"features: {name} ({width:,} values)"
    if len(losses) < 2:
        return used
    against = ", ".join(f"{other} {loss:.3f}" for other, loss in losses.items())
    return f"{used}, the lower log loss on {choose} ({against})"
