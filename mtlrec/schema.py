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

# quarantine columns
RAW = "raw"
SOURCE_FILE = "source_file"
REASON = "reason"

# truth columns
P_CLICK = "p_click"
P_PURCHASE_GIVEN_CLICK = "p_purchase_given_click"

# sample columns
SPLIT = "split"
TRAIN, VALID, TEST = "train", "valid", "test"

# recommendation columns
RANK = "rank"
SCORE = "score"
RUN_ID = "run_id"

# Delta table names under <root>/tables/
TRUTH_TABLE = "truth"
EVENTS_TABLE = "events"
QUARANTINE_TABLE = "quarantine"
USER_FEATURES_TABLE = "user_features"
ITEM_FEATURES_TABLE = "item_features"
SAMPLES_TABLE = "samples"
RECOMMENDATIONS_TABLE = "recommendations"

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
