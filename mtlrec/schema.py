"""Column names, event types and table schemas shared by every stage.

Stages talk to each other only through the tables named here, so a name lives here
once and nowhere else as a string literal.
"""

from __future__ import annotations

from pyspark.sql import types as T

# event types of the canonical raw schema
IMPRESSION = "impression"
CLICK = "click"
CART = "cart"
PURCHASE = "purchase"
EVENT_TYPES = (IMPRESSION, CLICK, CART, PURCHASE)

# raw / events columns
EVENT_ID = "event_id"
TS = "ts"
USER_ID = "user_id"
ITEM_ID = "item_id"
EVENT_TYPE = "event_type"
CATEGORY_ID = "category_id"
PRICE = "price"
DT = "dt"

# context features every log gets, from the exposure's timestamp (UTC)
HOUR = "hour"  # 0..23
DAY_OF_WEEK = "day_of_week"  # 1 (Sunday) .. 7, as Spark's dayofweek
TIME_CONTEXT = (HOUR, DAY_OF_WEEK)

# quarantine columns
RAW = "raw"
SOURCE_FILE = "source_file"
SOURCE_DT = "source_dt"  # events: the run date (dt folder) the row was read from

# dq_metrics columns (dt is the run date)
READ = "read"
CLEAN = "clean"
DUPLICATES = "duplicates"
QUARANTINED = "quarantined"
LATE = "late"
QUARANTINED_BY_REASON = "quarantined_by_reason"
MISSING_BY_FIELD = "missing_by_field"  # declared field -> clean events without a value
REASON = "reason"

# truth columns
P_CLICK = "p_click"
P_PURCHASE_GIVEN_CLICK = "p_purchase_given_click"

# sample columns
SPLIT = "split"
TRAIN, VALID, TEST = "train", "valid", "test"
LABELS = (CLICK, CART, PURCHASE)  # float label columns of `samples`
SAMPLED = "sampled"  # true on exposures made up by negative sampling
LABEL_OPEN = "label_open"  # true when an attribution window was still open at the run date
KEEP_RATE = "keep_rate"  # the chance the row survived negative down-sampling
WEIGHT = "weight"  # 1 / keep_rate: the row's training weight

# vocabulary columns (one table for every id feature)
FEATURE = "feature"  # the raw id column a vocabulary entry belongs to
ID = "id"
INDEX = "index"
COUNT = "count"
ADDED = "added"  # the run date the entry was appended

# feature statistics columns (one row per dense feature)
MEAN = "mean"
STD = "std"
SPEC = "spec"  # the features config the samples were built with, as JSON

# recommendation columns
RANK = "rank"
SCORE = "score"
STRATEGY = "strategy"  # the named ranking strategy a row was ranked by
MODEL_RUN_ID = "model_run_id"  # the run that trained the model
# leaderboard columns
BOARD = "board"  # expected_purchases, category_expected_purchases, trending
VALUE = "value"  # what the board ranks by
RUN_ID = "run_id"

# behaviour report columns (evaluation/behaviour.py)
IMPRESSIONS = "impressions"
CLICKS = "clicks"
CARTS = "carts"
PURCHASES = "purchases"
CTR = "ctr"  # clicks / impressions
CART_RATE = "cart_rate"  # carts / clicks
CVR = "cvr"  # purchases / clicks
PURCHASE_RATE = "purchase_rate"  # purchases / impressions
COHORT_WEEK = "cohort_week"  # Monday of the week of a user's first event
WEEK_OFFSET = "week_offset"  # weeks since the cohort week
COHORT_SIZE = "cohort_size"
ACTIVE_USERS = "active_users"
BUYERS = "buyers"
RETURN_RATE = "return_rate"  # active users / cohort size
PURCHASE_SHARE = "purchase_share"  # buyers / cohort size
WINDOW_DAYS = "window_days"  # days in each of the two windows a trend compares
RECENT_CLICKS = "recent_clicks"
PREVIOUS_CLICKS = "previous_clicks"
RECENT_PURCHASES = "recent_purchases"
PREVIOUS_PURCHASES = "previous_purchases"
CLICK_GROWTH = "click_growth"  # (recent + 1) / (previous + 1)
PURCHASE_GROWTH = "purchase_growth"

# data-quality report columns (evaluation/quality_report.py)
RECORDS = "records"
EXAMPLE_DT = "example_dt"
EXAMPLE_FILE = "example_file"
EXAMPLE = "example"  # the raw text of a reason's first record, truncated for display

# Delta table names under <root>/tables/
TRUTH_TABLE = "truth"
EVENTS_TABLE = "events"
QUARANTINE_TABLE = "quarantine"
DQ_METRICS_TABLE = "dq_metrics"
USER_CATEGORY_DAILY_TABLE = "user_category_daily"
ITEM_DAILY_TABLE = "item_daily"
USER_FEATURES_TABLE = "user_features"
ITEM_FEATURES_TABLE = "item_features"
USER_CATEGORY_FEATURES_TABLE = "user_category_features"
VOCABULARY_TABLE = "vocabulary"
FEATURE_STATS_TABLE = "feature_stats"
SAMPLES_TABLE = "samples"
RECOMMENDATIONS_TABLE = "recommendations"
LEADERBOARD_TABLE = "leaderboard"
# small aggregates of `events` for the report, overwritten by every evaluate
BEHAVIOUR_FUNNEL_DAILY_TABLE = "behaviour_funnel_daily"
BEHAVIOUR_FUNNEL_CATEGORY_TABLE = "behaviour_funnel_category"
BEHAVIOUR_COHORTS_TABLE = "behaviour_cohorts"
BEHAVIOUR_CATEGORY_TRENDS_TABLE = "behaviour_category_trends"

# The raw log as written by `generate` and read by `ingest`: every field a string or
# number exactly as a producer would send it; `ingest` decides what is valid.
RAW_SCHEMA = T.StructType(
    [
        T.StructField(EVENT_ID, T.StringType()),
        T.StructField(TS, T.StringType()),
        T.StructField(USER_ID, T.StringType()),
        T.StructField(ITEM_ID, T.StringType()),
        T.StructField(EVENT_TYPE, T.StringType()),
        T.StructField(CATEGORY_ID, T.StringType()),
        T.StructField(PRICE, T.DoubleType()),
    ]
)

EVENTS_SCHEMA = T.StructType(
    [
        T.StructField(EVENT_ID, T.StringType(), False),
        T.StructField(TS, T.TimestampType(), False),
        T.StructField(USER_ID, T.StringType(), False),
        T.StructField(ITEM_ID, T.StringType(), False),
        T.StructField(EVENT_TYPE, T.StringType(), False),
        T.StructField(CATEGORY_ID, T.StringType(), True),
        T.StructField(PRICE, T.DoubleType(), True),
        T.StructField(DT, T.DateType(), False),
    ]
)

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField(DT, T.DateType(), False),
        T.StructField(SOURCE_FILE, T.StringType(), False),
        T.StructField(RAW, T.StringType(), True),
        T.StructField(REASON, T.StringType(), False),
    ]
)

# `events` as stored: EVENTS_SCHEMA plus the run date each row was read from. A late
# event sits in the partition of its own date, so re-ingesting a run date replaces
# the rows of that run date, wherever they are, and no others.
STORED_EVENTS_SCHEMA = T.StructType(EVENTS_SCHEMA.fields + [T.StructField(SOURCE_DT, T.DateType(), False)])

# one row per run date and ingest; read = clean + duplicates + quarantined
DQ_METRICS_SCHEMA = T.StructType(
    [
        T.StructField(DT, T.DateType(), False),
        T.StructField(READ, T.LongType(), False),
        T.StructField(CLEAN, T.LongType(), False),
        T.StructField(DUPLICATES, T.LongType(), False),
        T.StructField(QUARANTINED, T.LongType(), False),
        T.StructField(LATE, T.LongType(), False),
        T.StructField(QUARANTINED_BY_REASON, T.MapType(T.StringType(), T.LongType(), False), False),
        T.StructField(RUN_ID, T.StringType(), False),
        T.StructField(MISSING_BY_FIELD, T.MapType(T.StringType(), T.LongType(), False), True),
    ]
)

# id -> embedding index, append-only: a known id keeps its index across runs
VOCABULARY_SCHEMA = T.StructType(
    [
        T.StructField(FEATURE, T.StringType(), False),
        T.StructField(ID, T.StringType(), False),
        T.StructField(INDEX, T.LongType(), False),
        T.StructField(COUNT, T.LongType(), False),
        T.StructField(ADDED, T.DateType(), False),
    ]
)

# the train split's mean and std of each dense feature, as the samples were standardised
FEATURE_STATS_SCHEMA = T.StructType(
    [
        T.StructField(FEATURE, T.StringType(), False),
        T.StructField(MEAN, T.DoubleType(), True),
        T.StructField(STD, T.DoubleType(), True),
        T.StructField(SPEC, T.StringType(), False),
    ]
)
