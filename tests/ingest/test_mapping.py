"""Mapping files: the shipped ones load; a wrong one fails naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlrec import schema as S
from mtlrec.config import ConfigError
from mtlrec.mapping import load_mapping, shipped_names

MTLREC = """\
fields: [id, when, who, what, kind]
columns: {event_id: id, ts: when, user_id: who, item_id: what, event_type: kind}
event_types: {view: impression, buy: purchase}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return str(path)


def test_every_shipped_mapping_loads() -> None:
    names = shipped_names()
    assert {"mtlrec", "taobao"} <= set(names)
    for name in names:
        assert load_mapping(name).columns[S.TS]


def test_taobao_maps_pv_to_click_keeps_fav_apart_and_derives_its_ids() -> None:
    taobao = load_mapping("taobao")

    assert taobao.fields == ("user_id", "item_id", "category_id", "behavior_type", "timestamp")
    assert taobao.event_types == {"pv": S.CLICK, "cart": S.CART, "buy": S.PURCHASE}
    assert taobao.ignore_event_types == ("fav",)
    assert taobao.timestamp == "epoch_seconds"
    assert taobao.derived_id and S.EVENT_ID not in taobao.columns


def test_a_mapping_can_be_given_by_path(tmp_path: Path) -> None:
    mapping = load_mapping(write(tmp_path, MTLREC))

    assert mapping.source(S.USER_ID) == "who" and mapping.source(S.PRICE) is None
    assert not mapping.derived_id


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("colour: red\n", "unknown key 'colour'"),
        ("timestamp: fortnights\n", "timestamp must be one of"),
        ("key: [event_id, basket]\n", "key must name canonical columns"),
    ],
)
def test_a_wrong_mapping_fails_naming_the_problem_and_the_file(tmp_path: Path, change: str, message: str) -> None:
    path = write(tmp_path, MTLREC + change)

    with pytest.raises(ConfigError, match=message) as err:
        load_mapping(path)

    assert path in str(err.value)


DECLARED = """\
fields: [id, when, who, what, kind, device, slot, brand]
columns: {event_id: id, ts: when, user_id: who, item_id: what, event_type: kind}
event_types: {view: impression, buy: purchase}
categorical: [device, brand]
numeric: [slot]
item_fields: [brand]
serving: {slot: 1}
"""


def test_declared_fields_load_with_their_roles() -> None:
    mapping = load_mapping("mtlrec_realistic")

    assert mapping.declared == ("device", "brand_id", "position")
    assert mapping.item_fields == ("brand_id",) and mapping.serving == {"position": 1}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("numeric: [slot]", "numeric: [slot, device]", r"\['device'\] declared twice"),
        ("numeric: [slot]", "numeric: [slot, colour]", r"not in fields: \['colour'\]"),
        ("categorical: [device, brand]", "categorical: [device, brand, who]", r"\['who'\] are mapped to canonical"),
        ("item_fields: [brand]", "item_fields: [brand, shelf]", r"item_fields \['shelf'\] are not declared"),
        ("serving: {slot: 1}", "serving: {brand: b1}", r"serving: \['brand'\] are not declared fields of the exp"),
        ("serving: {slot: 1}", "serving: {slot: top}", "serving.slot must be a finite number"),
        ("serving: {slot: 1}", "serving: {slot: 1, device: 2.5}", "serving.device must be a string or an integer"),
        ("numeric: [slot]", "numeric: [slot, hour]", r"declared field \['hour'\] must be a plain name"),
        ("numeric: [slot]", "numeric: [slot, shelf-no]", r"declared field \['shelf-no'\] must be a plain name"),
    ],
)
def test_a_wrong_declaration_fails_naming_the_key_and_the_file(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in DECLARED
    load_mapping(write(tmp_path, DECLARED))  # the unchanged mapping loads
    path = write(tmp_path, DECLARED.replace(old, new))

    with pytest.raises(ConfigError, match=message) as err:
        load_mapping(path)

    assert path in str(err.value)


def test_columns_must_name_fields_of_the_log(tmp_path: Path) -> None:
    path = write(tmp_path, MTLREC.replace("what, kind]", "kind]"))

    with pytest.raises(ConfigError, match="not in fields"):
        load_mapping(path)


def test_an_unknown_mapping_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="taobao"):
        load_mapping("no_such_log")
