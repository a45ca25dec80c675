"""Deterministic random draws as Spark columns.

All randomness of the generator comes from `uniform(seed, salt, *cols)`, a hash of a
row's own ids: the output is the same for a seed whatever the partitioning or the
number of executors, and nothing is drawn on the driver.
"""

from __future__ import annotations

import math

from pyspark.sql import Column
from pyspark.sql import functions as F

_MANTISSA = (1 << 53) - 1


def uniform(seed: int, salt: str, *cols: Column) -> Column:
    """A deterministic uniform draw in (0, 1) for each row, keyed by `cols`."""
    h = F.xxhash64(F.lit(seed), F.lit(salt), *cols).bitwiseAND(F.lit(_MANTISSA))
    return (h.cast("double") + F.lit(0.5)) / F.lit(float(_MANTISSA + 1))


def normal(seed: int, salt: str, *cols: Column) -> Column:
    """A deterministic standard normal draw (Box-Muller over two uniforms)."""
    u1 = uniform(seed, salt + ":1", *cols)
    u2 = uniform(seed, salt + ":2", *cols)
    return F.sqrt(F.lit(-2.0) * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)


def power_law_index(seed: int, salt: str, key: Column, *, size: int, exponent: float) -> Column:
    """An index in [0, size) drawn with a heavy head: index 0 is the most likely.

    `floor(u ** exponent * size)`: the larger the exponent, the more mass on the first
    few indexes (a Zipf-like popularity curve).
    """
    return F.floor(F.pow(uniform(seed, salt, key), F.lit(exponent)) * F.lit(size)).cast("long")


def latent(seed: int, salt: str, key: Column, dim: int, scale: float) -> Column:
    """A `dim`-vector of independent normals times `scale`, keyed by `key`."""
    return F.transform(
        F.sequence(F.lit(0), F.lit(dim - 1)),
        lambda j: normal(seed, salt, key, j) * F.lit(scale),
    )


def sigmoid(logit: Column) -> Column:
    """The probability of a logit (the truth's click and purchase chances)."""
    return F.lit(1.0) / (F.lit(1.0) + F.exp(-logit))


def dot(a: str, b: str) -> Column:
    products = F.zip_with(F.col(a), F.col(b), lambda x, y: x * y)
    return F.aggregate(products, F.lit(0.0), lambda acc, x: acc + x)


def choice(u: Column, weights: dict[str, float]) -> Column:
    """The name whose cumulative-weight interval holds `u`; null past the last one.

    With weights summing to w <= 1, a uniform `u` picks each name with its weight
    and nothing with probability 1 - w.
    """
    picked: Column = F.lit(None).cast("string")
    edge = sum(weights.values())
    for name, weight in reversed(list(weights.items())):
        edge -= weight
        if weight > 0.0:
            picked = F.when((u >= F.lit(edge)) & (u < F.lit(edge + weight)), F.lit(name)).otherwise(picked)
    return picked


def zipf_index(seed: int, salt: str, key: Column, *, size: int, exponent: float) -> Column:
    """An index in [0, size) whose chance falls as a power of its rank: ~ (index + 1) ** -exponent.

    The inverse CDF of a power law on [1, size + 1), floored: Zipf's law, continuous
    between the ranks (so a little off the discrete one at the very first ranks).
    """
    u = uniform(seed, salt, key)
    top = float(size + 1)
    if abs(exponent - 1.0) < 1e-9:
        rank = F.pow(F.lit(top), u)
    else:
        a = 1.0 - exponent
        rank = F.pow(F.lit(1.0) + u * F.lit(top**a - 1.0), F.lit(1.0 / a))
    return F.least(F.greatest(F.floor(rank) - F.lit(1), F.lit(0)), F.lit(size - 1)).cast("long")


def index_by_weight(u: Column, weights: list[float]) -> Column:
    """The index whose cumulative-weight interval holds the uniform `u` (weights need not sum to 1)."""
    total = sum(weights)
    edges, acc = [], 0.0
    for w in weights[:-1]:
        acc += w
        edges.append(acc / total)
    picked: Column = F.lit(0)
    for edge in edges:
        picked = picked + (u >= F.lit(edge)).cast("int")
    return picked
