from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from mtlrec import schema as S
from mtlrec.features import daily, history
from mtlrec.layout import COUNT_KINDS, WINDOWS, count_name

D1, D2, D3, END = (dt.date(2026, 11, d) for d in (1, 2, 3, 4))
TARGETS = (D1, D2, D3, END)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


# u1 is active on D1, D2 and D3; u2 only on D2
ACTIVITY = [
    ("a1", at(D1, 10), "u1", "i1", "impression", "c1", 10.0),
    ("a2", at(D1, 10, 5), "u1", "i1", "click", "c1", 10.0),
    ("a3", at(D1, 11), "u1", "i2", "impression", "c2", 20.0),
    ("b1", at(D2, 9), "u1", "i2", "impression", "c2", 20.0),
    ("x1", at(D2, 12), "u2", "i1", "impression", "c1", 10.0),
    ("c1", at(D3, 8), "u1", "i2", "click", "c2", 20.0),
    ("c2", at(D3, 8, 30), "u1", "i2", "purchase", "c2", 25.0),
]
# later in D2 than anything above, and on D3: none may change a row of D2 or before
LATER = [
    ("b2", at(D2, 13), "u1", "i2", "click", "c2", 20.0),
    ("x2", at(D2, 13), "u2", "i1", "purchase", "c1", 10.0),
    ("c3", at(D3, 9), "u1", "i1", "impression", "c1", 10.0),
]

COUNTS = [count_name(p, k, w) for p in ("user",) for k in COUNT_KINDS for w in WINDOWS]
USER_DDL = ", ".join(
    [
        "user_id string, dt date",
        *[f"{c} long" for c in COUNTS],
        "user_ctr_30d double, user_cvr_30d double, user_days_since_last int, user_spend_30d double",
        "user_top1_category string, user_top2_category string, user_top3_category string",
        "user_top1_share double, user_top2_share double, user_top3_share double",
        "user_click_items array<string>",
    ]
)


def states(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    uc = history.user_category_state(
        history.spread(daily.user_category_daily(events, sequence_length=3), targets=TARGETS), sequence_length=3
    )
    items = history.item_state(history.spread(daily.item_daily(events), targets=TARGETS))
    return uc, items


def users_of(events: DataFrame) -> DataFrame:
    uc, items = states(events)
    return history.user_features(uc, priors=history.priors(items), smoothing=20.0, sequence_length=3, end=END)


def user_row(user: str, day: dt.date, counts: dict[str, int], rest: tuple[Any, ...]) -> tuple[Any, ...]:
    """`counts` by "kind_window" (e.g. "clicks_7d"); zero when absent."""
    return (user, day, *[counts.get(c.removeprefix("user_"), 0) for c in COUNTS], *rest)


def test_user_features_sum_only_days_before_their_day(spark: SparkSession, events_of: Any) -> None:
    actual = users_of(events_of(ACTIVITY))

    d1 = {f"{k}_{w}d": n for k, n in (("impressions", 2), ("clicks", 1)) for w in WINDOWS}
    expected = spark.createDataFrame(
        [
            # no history at all: the prior is unknown too
            user_row("u1", D1, {}, (None, None, 31, 0.0, None, None, None, 0.0, 0.0, 0.0, [])),
            # D1's two impressions and click; prior CTR 1/2 and CVR 0 from D1's population
            user_row("u1", D2, d1, (11 / 22, 0.0, 1, 0.0, "c1", "c2", None, 2 / 3, 1 / 3, 0.0, ["i1"])),
            user_row(
                "u1",
                D3,
                {"impressions_1d": 1, "impressions_7d": 3, "impressions_30d": 3, "clicks_7d": 1, "clicks_30d": 1},
                (6 / 23, 0.0, 1, 0.0, "c1", "c2", None, 0.5, 0.5, 0.0, ["i1"]),
            ),
            user_row(
                "u1",
                END,
                {"clicks_1d": 1, "purchases_1d": 1, "impressions_7d": 3, "impressions_30d": 3}
                | {f"{k}_{w}d": n for k, n in (("clicks", 2), ("purchases", 1)) for w in (7, 30)},
                (12 / 23, 0.5, 1, 25.0, "c2", "c1", None, 4 / 6, 2 / 6, 0.0, ["i2", "i1"]),
            ),
            user_row("u2", D2, {}, (0.5, 0.0, 31, 0.0, None, None, None, 0.0, 0.0, 0.0, [])),
            # not active on D3: no row; on the scoring date every user with history has one
            user_row(
                "u2",
                END,
                {"impressions_7d": 1, "impressions_30d": 1},
                (10 / 21, 0.5, 2, 0.0, "c1", None, None, 1.0, 0.0, 0.0, []),
            ),
        ],
        USER_DDL,
    )
    assertDataFrameEqual(actual, expected, rtol=1e-9)


def test_a_later_event_changes_no_feature_row_of_its_day_or_before(events_of: Any) -> None:
    before = users_of(events_of(ACTIVITY))
    after = users_of(events_of(ACTIVITY + LATER))

    up_to_d2 = F.col(S.DT) <= F.lit(D2)
    assertDataFrameEqual(after.where(up_to_d2), before.where(up_to_d2))
    # the same events do count from the next day on
    changed = after.where(~up_to_d2).exceptAll(before.where(~up_to_d2))
    assert {(r[S.USER_ID], r[S.DT]) for r in changed.collect()} == {("u1", D3), ("u1", END), ("u2", END)}


def test_item_features_rank_popularity_and_keep_the_last_known_price(spark: SparkSession, events_of: Any) -> None:
    _, items = states(events_of(ACTIVITY))

    actual = history.item_features(items, priors=history.priors(items), smoothing=20.0, end=END).select(
        S.ITEM_ID,
        S.DT,
        "item_impressions_1d",
        "item_impressions_7d",
        "item_clicks_7d",
        "item_purchases_7d",
        "item_ctr_30d",
        "item_cvr_30d",
        "item_days_since_last",
        S.PRICE,
        S.CATEGORY_ID,
        "item_pop_rank",
        "item_pop_pct",
    )

    expected = spark.createDataFrame(
        [
            # no clicks anywhere yet: ties ranked by id
            ("i1", D1, 0, 0, 0, 0, None, None, 31, None, None, 1, 0.0),
            ("i2", D1, 0, 0, 0, 0, None, None, 31, None, None, 2, 1.0),
            ("i1", D2, 1, 1, 1, 0, 11 / 21, 0.0, 1, 10.0, "c1", 1, 0.0),
            ("i2", D2, 1, 1, 0, 0, 10 / 21, 0.0, 1, 20.0, "c2", 2, 1.0),
            # i1 has no event on D3: no row, though it ranks first that day
            ("i2", D3, 1, 2, 0, 0, 5 / 22, 0.0, 1, 20.0, "c2", 2, 1.0),
            ("i1", END, 0, 2, 1, 0, 0.5, 10 / 21, 2, 10.0, "c1", 1, 0.0),
            ("i2", END, 0, 2, 1, 1, 0.5, 11 / 21, 1, 25.0, "c2", 2, 1.0),
        ],
        "item_id string, dt date, item_impressions_1d long, item_impressions_7d long, item_clicks_7d long, "
        "item_purchases_7d long, item_ctr_30d double, item_cvr_30d double, item_days_since_last int, "
        "price double, category_id string, item_pop_rank int, item_pop_pct double",
    )
    assertDataFrameEqual(actual, expected, rtol=1e-9)


def test_cross_features_count_the_user_in_each_category_and_its_share(spark: SparkSession, events_of: Any) -> None:
    uc, _ = states(events_of(ACTIVITY))

    actual = history.cross_features(uc, end=END)

    expected = spark.createDataFrame(
        [
            ("u1", "c1", D1, 0, 0, 0, 0, 0.0),
            ("u1", "c2", D1, 0, 0, 0, 0, 0.0),
            # u1 sees no c1 item on D2 or D3: no (u1, c1) row those days
            ("u1", "c2", D2, 1, 0, 0, 0, 1 / 3),
            ("u1", "c2", D3, 2, 0, 0, 0, 0.5),
            ("u1", "c1", END, 1, 1, 0, 0, 2 / 6),
            ("u1", "c2", END, 2, 1, 0, 1, 4 / 6),
            ("u2", "c1", D2, 0, 0, 0, 0, 0.0),
            ("u2", "c1", END, 1, 0, 0, 0, 1.0),
        ],
        "user_id string, category_id string, dt date, uc_impressions_30d long, uc_clicks_30d long, "
        "uc_carts_30d long, uc_purchases_30d long, uc_share_30d double",
    )
    assertDataFrameEqual(actual, expected, rtol=1e-9)


def test_windows_drop_days_older_than_the_window(spark: SparkSession, events_of: Any) -> None:
    old = [
        ("o1", at(D1 - dt.timedelta(days=30), 9), "u1", "i1", "click", "c1", 1.0),  # 31 days before END
        ("o2", at(D1 - dt.timedelta(days=6), 9), "u1", "i1", "click", "c1", 1.0),  # 10 days before END
        ("o3", at(D3, 9), "u1", "i1", "click", "c1", 1.0),  # the day before END
    ]
    uc = history.user_category_state(
        history.spread(daily.user_category_daily(events_of(old), sequence_length=3), targets=[END]),
        sequence_length=3,
    )

    actual = uc.select(S.USER_ID, S.DT, "clicks_1d", "clicks_7d", "clicks_30d", history.LAST)

    expected = spark.createDataFrame(
        [("u1", END, 1, 1, 2, 1)],
        "user_id string, dt date, clicks_1d long, clicks_7d long, clicks_30d long, last_offset int",
    )
    assertDataFrameEqual(actual, expected)
