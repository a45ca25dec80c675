"""Mapping files: how a foreign log's fields, event values and time unit become mtlrec's.

A mapping is YAML, named (a shipped one in `mtlrec/mappings/`, else the working
directory's `conf/mappings/<name>.yaml`) or a path, loaded into a frozen
dataclass with the same checks as the config: an unknown key, a wrong type or a
reference to a field the log does not have fails naming the key and the file.

Besides the canonical columns, a mapping may declare fields of its own log that
become features: `categorical` (categories, e.g. a device or a brand id) and `numeric`
(numbers, e.g. a slot position). Ingest keeps them in `events` under their own names.
`item_fields` names those that describe the item rather than the exposure (a brand),
and `serving` the value a field of the exposure takes when scoring (a slot position).
"""

from __future__ import annotations

import importlib.resources
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mtlrec import schema as S
from mtlrec import storage
from mtlrec.config import ConfigError, from_dict

# the shipped mappings travel with the package, also inside spark-submit's --py-files zip,
# so a job finds them whatever folder it starts in
SHIPPED = importlib.resources.files("mtlrec") / "mappings"
SHIPPED_NAME = "mtlrec/mappings"  # how messages name that folder
# a user's own mappings by name: the working directory's conf/mappings/
WORKING_MAPPINGS_DIR = Path("conf") / "mappings"
TIMESTAMP_UNITS = ("iso8601", "epoch_seconds", "epoch_millis")
REQUIRED = (S.TS, S.USER_ID, S.ITEM_ID, S.EVENT_TYPE)
CANONICAL = tuple(S.RAW_SCHEMA.fieldNames())
# a declared field is a column of `events`: a plain name, none of the stored columns'
# nor of the context features every log gets
RESERVED = frozenset(S.STORED_EVENTS_SCHEMA.fieldNames()) | frozenset(S.TIME_CONTEXT)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Mapping:
    fields: tuple[str, ...]  # the log's fields; a CSV without header has them in this order
    columns: dict[str, str]  # canonical column -> source field
    event_types: dict[str, str]  # source value -> canonical event type
    ignore_event_types: tuple[str, ...] = ()  # values with no canonical type, quarantined as such
    timestamp: str = "iso8601"
    key: tuple[str, ...] = (S.EVENT_ID,)  # canonical columns that identify an event
    numbers: tuple[str, ...] = ()  # JSON fields that hold numbers (others are strings)
    categorical: tuple[str, ...] = ()  # declared fields holding categories
    numeric: tuple[str, ...] = ()  # declared fields holding numbers
    item_fields: tuple[str, ...] = ()  # declared fields describing the item, not the exposure
    serving: dict[str, Any] = field(default_factory=dict)  # context field -> its value when scoring
    name: str = field(default="", compare=False)  # where it was loaded from, for messages

    @property
    def derived_id(self) -> bool:
        """True when `event_id` is a hash of `key`, not a field of the log."""
        return tuple(self.key) != (S.EVENT_ID,)

    @property
    def declared(self) -> tuple[str, ...]:
        """The declared fields, categorical first, each a column of `events`."""
        return self.categorical + self.numeric

    def source(self, column: str) -> str | None:
        """The source field of a canonical column (None: the log does not have it)."""
        return self.columns.get(column)


def shipped_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in SHIPPED.iterdir() if p.name.endswith(".yaml"))


def _mapping_text(name: str) -> tuple[str, bytes]:
    """(where, YAML bytes) of a mapping: a shipped name, a name in the working directory's
    conf/mappings/, or a path or URI as given."""
    if "/" in name or name.endswith((".yaml", ".yml")):
        return name, storage.read_bytes(name)
    shipped = SHIPPED / f"{name}.yaml"
    if shipped.is_file():
        return f"{SHIPPED_NAME}/{name}.yaml", shipped.read_bytes()
    working = str(WORKING_MAPPINGS_DIR.resolve() / f"{name}.yaml")
    return working, storage.read_bytes(working)


def load_mapping(name: str) -> Mapping:
    try:
        where, text = _mapping_text(name)
        raw = yaml.safe_load(text) or {}
    except FileNotFoundError:
        raise ConfigError(
            f"input.mapping {name!r}: no mapping of that name in {SHIPPED_NAME}/ or "
            f"{WORKING_MAPPINGS_DIR.resolve()}/, nor a file (shipped: {', '.join(shipped_names())})"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: not valid YAML: {err}") from err
    mapping: Mapping = from_dict(Mapping, {**raw, "name": where}, source=where)
    check(mapping)
    return mapping


def check(mapping: Mapping) -> None:
    """Cross-field checks; raises ConfigError naming the mapping file."""
    where = mapping.name or "<mapping>"
    unknown_columns = sorted(set(mapping.columns) - set(CANONICAL))
    problems = [
        (not unknown_columns, f"columns: unknown canonical column(s) {unknown_columns}; known: {list(CANONICAL)}"),
        (set(REQUIRED) <= set(mapping.columns), f"columns must map {list(REQUIRED)}"),
        (
            set(mapping.columns.values()) <= set(mapping.fields),
            f"columns name source fields not in fields: {sorted(set(mapping.columns.values()) - set(mapping.fields))}",
        ),
        (set(mapping.numbers) <= set(mapping.fields), "numbers must be listed in fields"),
        (len(set(mapping.fields)) == len(mapping.fields), "fields must not repeat"),
        (
            len(mapping.event_types) > 0 and set(mapping.event_types.values()) <= set(S.EVENT_TYPES),
            f"event_types must map values onto {list(S.EVENT_TYPES)}",
        ),
        (
            not set(mapping.ignore_event_types) & set(mapping.event_types),
            "a value is both in event_types and ignore_event_types",
        ),
        (mapping.timestamp in TIMESTAMP_UNITS, f"timestamp must be one of {TIMESTAMP_UNITS}"),
        (len(mapping.key) > 0 and set(mapping.key) <= set(CANONICAL), f"key must name canonical columns {CANONICAL}"),
        (set(mapping.key) <= set(mapping.columns), "key names a column the mapping does not map"),
    ]
    for ok, message in [*problems, *_declared_problems(mapping)]:
        if not ok:
            raise ConfigError(f"{where}: {message}")


def _declared_problems(mapping: Mapping) -> list[tuple[bool, str]]:
    declared = mapping.declared
    twice = sorted({f for f in declared if declared.count(f) > 1})
    mapped = sorted(set(declared) & set(mapping.columns.values()))
    names = [f for f in declared if not _NAME.fullmatch(f) or f in RESERVED]
    context = [f for f in declared if f not in mapping.item_fields]
    problems = [
        (
            not names,
            f"declared field {names[:1]} must be a plain name (letters, digits, _) and none of {sorted(RESERVED)}",
        ),
        (not twice, f"field(s) {twice} declared twice (in categorical and numeric, or repeated)"),
        (
            set(declared) <= set(mapping.fields),
            f"categorical/numeric name field(s) not in fields: {sorted(set(declared) - set(mapping.fields))}",
        ),
        (not mapped, f"field(s) {mapped} are mapped to canonical columns and cannot be declared too"),
        (
            set(mapping.item_fields) <= set(declared),
            f"item_fields {sorted(set(mapping.item_fields) - set(declared))} are not declared categorical or numeric",
        ),
        (
            set(mapping.serving) <= set(context),
            f"serving: {sorted(set(mapping.serving) - set(context))} are not declared fields of the exposure"
            " (item_fields take the item's value)",
        ),
    ]
    for name, value in mapping.serving.items():
        problems.append((_serving_fits(value, numeric=name in mapping.numeric), _serving_message(mapping, name, value)))
    return problems


def _serving_fits(value: Any, *, numeric: bool) -> bool:
    if isinstance(value, bool):
        return False
    if numeric:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, (str, int))


def _serving_message(mapping: Mapping, name: str, value: Any) -> str:
    numeric = name in mapping.numeric
    kind = "a finite number (numeric field)" if numeric else "a string or an integer (categorical field)"
    return f"serving.{name} must be {kind}, got {value!r}"
