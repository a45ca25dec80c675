"""`score` settings: candidates, ranking strategies, leaderboards; read by `score` and `evaluate`."""

from __future__ import annotations

from dataclasses import dataclass, field

from mtlrec.checks import at_least

# the terms a strategy may raise to a power: task probabilities, their ESMM products
# and ratios, and item attributes
PROBABILITY_TERMS = ("click", "purchase", "ctcvr", "cvr")
ITEM_TERMS = ("price", "popularity", "exposure")


@dataclass(frozen=True)
class ScoreConfig:
    top_k: int = 10
    # candidates per user: the whole catalogue when it has at most `catalogue_max`
    # items, else the union of the `popular` most-clicked items, the `category_popular`
    # most-clicked of each of the user's `top_categories` categories, and the items the
    # user clicked in the last `viewed_days` days but did not buy
    catalogue_max: int = 300
    popular: int = 100
    category_popular: int = 20
    top_categories: int = 3
    viewed_days: int = 7
    exclude_purchased: bool = True  # never recommend an item the user already bought
    category_cap: int = 3  # at most this many items of one category in a top-K (0: no cap)
    # named ranking strategies, each scored and written side by side (`strategy` column):
    # score = prod over terms of term ** exponent; terms are p_click, p_purchase,
    # p_ctcvr (= p_purchase: purchase is labelled over all exposures), p_cvr
    # (= p_purchase / p_click), and the item's price, popularity (30-day clicks + 1)
    # and exposure (30-day impressions + 1; p_ctcvr * exposure: the purchases to expect
    # while the site keeps showing items as the log did)
    strategies: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            "purchases": {"ctcvr": 1.0, "exposure": 1.0},  # purchases to expect as items are shown
            "ctcvr": {"ctcvr": 1.0},  # expected purchases per exposure
            "gmv": {"ctcvr": 1.0, "price": 1.0},  # expected revenue
            "click": {"click": 1.0},
        }
    )
    leaderboard_size: int = 50  # items per leaderboard (and per category)
    trending_days: int = 3  # trending: purchases in the last N days against the N before
    batch_size: int = 4096  # rows per Arrow batch into the model

    def checks(self, tasks: tuple[str, ...]) -> list[tuple[bool, str]]:
        """The strategies may use only what the trained `tasks` give."""
        derived = ("ctcvr", "cvr") if {"click", "purchase"} <= set(tasks) else ()
        allowed = (*tasks, *derived, *ITEM_TERMS)
        checks = [
            (len(self.strategies) > 0, "score.strategies must name at least one strategy"),
            *at_least("score", self, ("top_k", "batch_size", "leaderboard_size", "trending_days")),
            (self.category_cap >= 0, "score.category_cap must be >= 0 (0: no cap)"),
            *at_least(
                "score",
                self,
                ("catalogue_max", "popular", "category_popular", "top_categories", "viewed_days"),
                minimum=0,
            ),
        ]
        for name, terms in self.strategies.items():
            unknown = sorted(set(terms) - set(allowed))
            checks.append(
                (
                    not unknown,
                    f"score.strategies.{name}: unknown term {unknown[0] if unknown else ''!r} "
                    f"(allowed with train.tasks {list(tasks)}: {', '.join(allowed)})",
                )
            )
            checks.append((len(terms) > 0, f"score.strategies.{name} must name at least one term"))
        return checks
