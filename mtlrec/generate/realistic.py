"""The realistic profile (`generate.profile: realistic`): a truth as hard as real logs.

Every user visits at least about once (half the sessions are spread evenly over the
users, the other half go by Zipf's law over their activity rank) and items are shown
by Zipf's law over their popularity rank. Each session happens on one device (mostly
the user's main one) and fills the slots of result pages in order, so position 1 is
the most shown. The true click and purchase-given-click logits add up

- user and item latent factors (`latent_dim`, the inner product of unit variance
  whatever the dimension) and per-id biases,
- the item's brand (`brands`, of Zipf-distributed size), the device, the slot
  (click only: `-POSITION_DECAY * ln(position)`) and the hour of day (evening peak),
- for purchases, the price (dearer items sell less),

around `base_ctr` and `base_cvr`: the chances at the centre (slot 1, on the app, every
other effect 0), which the effects' spread lifts to the mean rates. The constants are
set so that `conf/realistic.yaml` gives ~4% CTR, ~7% purchases per click and oracle
AUCs of ~0.8 (click) and ~0.9 (purchase over all exposures): `bench/generate_profile.py`
measures them.
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from mtlrec import schema as S
from mtlrec.generate import logs
from mtlrec.generate.config import GenerateConfig
from mtlrec.generate.draws import choice, dot, index_by_weight, latent, normal, sigmoid, uniform, zipf_index

# context fields of every line (not in the canonical schema: ingest ignores them)
DEVICE, POSITION, BRAND_ID = "device", "position", "brand_id"
HOUR = "hour"  # of the impression's timestamp, UTC; in the truth, not a field of the log
CONTEXT_FIELDS = (DEVICE, POSITION, BRAND_ID)
TRUTH_CONTEXT = (DEVICE, POSITION, BRAND_ID, HOUR)

# device -> (share of users whose main device it is, click effect, purchase effect)
DEVICES = {"app": (0.5, 0.0, 0.0), "mobile_web": (0.3, -0.2, -0.2), "desktop": (0.2, -0.45, 0.3)}
MAIN_DEVICE = 0.8  # share of a user's sessions on their main device
POSITION_DECAY = 0.45
EVEN_SESSIONS = 0.5  # share of the sessions spread evenly over the users
BRAND_ZIPF = 0.8  # brand sizes (items per brand) by rank
# logit weights: the latent inner product; standard deviations of the per-id effects
CLICK_AFFINITY, BUY_AFFINITY = 0.9, 0.7
USER_CLICK_SD, ITEM_CLICK_SD, BRAND_CLICK_SD = 0.6, 0.5, 0.3
USER_BUY_SD, ITEM_BUY_SD, BRAND_BUY_SD = 0.6, 0.4, 0.3
PRICE_EFFECT = 0.35  # per unit of log price, on purchases
# hour of day: amplitude and peak hour (UTC) of the click and purchase effects and of
# how many sessions start
HOUR_CLICK, HOUR_BUY, HOUR_SESSIONS = (0.15, 21), (0.10, 20), (0.6, 20)


def _by_hour(hour: Column, amplitude_peak: tuple[float, int]) -> Column:
    amplitude, peak = amplitude_peak
    return F.lit(amplitude) * F.cos(F.lit(2 * math.pi / 24) * (hour - F.lit(peak)))


def _device_effect(device: Column, which: int) -> Column:
    effects = F.create_map(*[F.lit(x) for name, v in DEVICES.items() for x in (name, v[which])])
    return effects[device]


def users(spark: SparkSession, cfg: GenerateConfig) -> DataFrame:
    """One row per user: latent vector, click and purchase biases, main device."""
    u = F.col("u")
    shares = {name: v[0] for name, v in DEVICES.items()}
    return spark.range(cfg.users).select(
        F.col("id").alias("u"),
        latent(cfg.seed, "user_vec", u, cfg.latent_dim, cfg.latent_dim**-0.25).alias("u_vec"),
        (normal(cfg.seed, "user_bias", u) * F.lit(USER_CLICK_SD)).alias("u_bias"),
        (normal(cfg.seed, "user_buy", u) * F.lit(USER_BUY_SD)).alias("u_buy"),
        choice(uniform(cfg.seed, "main_device", u), shares).alias("main_device"),
    )


def items(spark: SparkSession, cfg: GenerateConfig) -> DataFrame:
    """One row per item: category, brand, price, latent vector near its category's, biases."""
    i = F.col("i")
    cat = F.floor(uniform(cfg.seed, "item_cat", i) * F.lit(cfg.categories)).cast("long")
    brand = zipf_index(cfg.seed, "item_brand", i, size=cfg.brands, exponent=BRAND_ZIPF)
    scale = cfg.latent_dim**-0.25
    cat_vec = latent(cfg.seed, "cat_vec", cat, cfg.latent_dim, scale * 0.6)
    own_vec = latent(cfg.seed, "item_vec", i, cfg.latent_dim, scale * 0.8)
    return spark.range(cfg.items).select(
        F.col("id").alias("i"),
        cat.alias("cat"),
        F.format_string("b%d", brand).alias(BRAND_ID),
        F.round(F.exp(F.lit(3.0) + normal(cfg.seed, "item_price", i) * F.lit(0.8)), 2).alias("price"),
        F.zip_with(cat_vec, own_vec, lambda a, b: a + b).alias("i_vec"),
        (
            normal(cfg.seed, "item_bias", i) * F.lit(ITEM_CLICK_SD)
            + normal(cfg.seed, "brand_click", brand) * F.lit(BRAND_CLICK_SD)
        ).alias("i_bias"),
        (
            normal(cfg.seed, "item_buy", i) * F.lit(ITEM_BUY_SD)
            + normal(cfg.seed, "brand_buy", brand) * F.lit(BRAND_BUY_SD)
        ).alias("i_buy"),
    )


def sessions_per_user(cfg: GenerateConfig) -> Column:
    """Sessions of user `u` (rank u + 1): an even share plus a Zipf share, rounded at random."""
    total = logs.session_count(cfg)
    harmonic = math.fsum(k**-cfg.user_zipf for k in range(1, cfg.users + 1))
    rank = F.col("u") + F.lit(1)
    expected = F.lit(total * EVEN_SESSIONS / cfg.users) + F.lit(total * (1 - EVEN_SESSIONS) / harmonic) * F.pow(
        rank, F.lit(-cfg.user_zipf)
    )
    return F.floor(expected + uniform(cfg.seed, "user_sessions", F.col("u"))).cast("int")


def sessions(spark: SparkSession, cfg: GenerateConfig) -> DataFrame:
    """One row per impression: key, user `u`, item `i`, second `t`, `device`, `position`.

    A session starts on a day and an hour drawn by the daily cycle and shows its
    impressions 20-35 seconds apart, slot after slot of `slots`-slot pages.
    """
    per_user = (
        spark.range(cfg.users, numPartitions=cfg.partitions)
        .select(F.col("id").alias("u"), sessions_per_user(cfg).alias("n"))
        .where(F.col("n") >= 1)
        .select("u", F.explode(F.sequence(F.lit(1), F.col("n"))).alias("n"))
        .repartition(cfg.partitions, "u", "n")
    )
    s = F.format_string("%d-%d", F.col("u"), F.col("n"))
    amplitude, peak = HOUR_SESSIONS
    hour = index_by_weight(
        uniform(cfg.seed, "session_hour", s),
        [1.0 + amplitude * math.cos(2 * math.pi * (h - peak) / 24) for h in range(24)],
    )
    day = F.floor(uniform(cfg.seed, "session_day", s) * F.lit(cfg.days))
    start = (
        F.lit(logs.epoch(cfg.start_date))
        + day * F.lit(86400.0)
        + hour * F.lit(3600.0)
        + uniform(cfg.seed, "session_second", s) * F.lit(3600.0)
    )
    shares = {name: v[0] for name, v in DEVICES.items()}
    on_main = uniform(cfg.seed, "on_main", s) < F.lit(MAIN_DEVICE)
    per_session = per_user.join(F.broadcast(users(spark, cfg).select("u", "main_device")), on="u", how="inner").select(
        "u",
        s.alias("s"),
        start.alias("t0"),
        F.when(on_main, F.col("main_device")).otherwise(choice(uniform(cfg.seed, "device", s), shares)).alias(DEVICE),
        F.explode(F.sequence(F.lit(0), logs.session_size(cfg, s) - F.lit(1))).alias("j"),
    )
    key = F.format_string("%s-%d", F.col("s"), F.col("j"))
    t = F.col("t0") + F.col("j") * F.lit(20.0) + uniform(cfg.seed, "imp_gap", key) * F.lit(15.0)
    return per_session.select(
        key.alias(logs.IMPRESSION_KEY),
        "u",
        zipf_index(cfg.seed, "imp_item", key, size=cfg.items, exponent=cfg.item_zipf).alias("i"),
        t.alias("t"),
        DEVICE,
        (F.col("j") % F.lit(cfg.slots) + F.lit(1)).alias(POSITION),
    )


def impressions(spark: SparkSession, cfg: GenerateConfig) -> DataFrame:
    """Impressions with their context and true click and purchase-given-click probabilities."""
    hour = F.floor((F.col("t") % F.lit(86400.0)) / F.lit(3600.0)).cast("int")
    device = F.col(DEVICE)
    click_logit = (
        F.lit(math.log(cfg.base_ctr / (1 - cfg.base_ctr)))
        + F.lit(CLICK_AFFINITY) * F.col("affinity")
        + F.col("u_bias")
        + F.col("i_bias")
        + _device_effect(device, 1)
        - F.lit(POSITION_DECAY) * F.log(F.col(POSITION).cast("double"))
        + _by_hour(F.col(HOUR), HOUR_CLICK)
    )
    buy_logit = (
        F.lit(math.log(cfg.base_cvr / (1 - cfg.base_cvr)))
        + F.lit(BUY_AFFINITY) * F.col("affinity")
        + F.col("u_buy")
        + F.col("i_buy")
        + _device_effect(device, 2)
        + _by_hour(F.col(HOUR), HOUR_BUY)
        - F.lit(PRICE_EFFECT) * (F.log(F.col("price")) - F.lit(3.0))
    )
    return (
        sessions(spark, cfg)
        .withColumn(HOUR, hour)
        .join(users(spark, cfg).drop("main_device"), on="u", how="inner")
        .join(F.broadcast(items(spark, cfg)), on="i", how="inner")
        # computed once for both logits: a higher-order function is not compiled
        .withColumn("affinity", dot("u_vec", "i_vec"))
        .select(
            logs.IMPRESSION_KEY,
            "u",
            "i",
            "cat",
            "price",
            "t",
            *TRUTH_CONTEXT,
            sigmoid(click_logit).alias(S.P_CLICK),
            sigmoid(buy_logit).alias(S.P_PURCHASE_GIVEN_CLICK),
        )
    )


def bot_catalogue(spark: SparkSession, cfg: GenerateConfig) -> DataFrame:
    """The items as bots see them: from the desktop site, each item at a slot of its own."""
    return items(spark, cfg).select(
        "i",
        "cat",
        "price",
        F.lit("desktop").alias(DEVICE),
        (F.col("i") % F.lit(cfg.slots) + F.lit(1)).alias(POSITION),
        BRAND_ID,
    )
