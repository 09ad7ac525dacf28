"""Presets are data: strict TOML loading, overrides and sampling."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.camsim import CameraParams, load_preset, preset_names
from rig.camsim.params import SECTIONS, parse_override
from rig.errors import InputError


def test_every_bundled_preset_loads_into_frozen_dataclasses():
    for name in preset_names():
        params = load_preset(name)
        assert params.name == name
        with pytest.raises(dataclasses.FrozenInstanceError):
            params.pose.distance_mm = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("text", "fragment"), [
    ("[pose]\ndistanse_mm = 500.0\n", "distanse_mm"),
    ("[posee]\ndistance_mm = 500.0\n", "posee"),
    ("[ranges]\n\"pose.nope\" = [1.0, 2.0]\n", "pose.nope"),
    ("[pose]\ndistance_mm = \"far\"\n", "distance_mm"),
    ("[pose]\ndistance_mm = -3.0\n", "distance_mm"),
    ("[ranges]\n\"pose.yaw_deg\" = [5.0, 1.0]\n", "pose.yaw_deg"),
    ("[sensor]\njpeg_quality = 101\n", "jpeg_quality"),
    ("[display]\nsubpixels = \"pentile\"\n", "subpixels"),
    ("[pose\n", "not valid TOML"),
])
def test_bad_presets_are_errors_naming_the_key(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=fragment.replace("[", r"\[")) as info:
        load_preset(path)
    assert str(path) in info.value.message


def test_unknown_preset_name_lists_the_bundled_ones():
    with pytest.raises(InputError, match="tripod-ideal"):
        load_preset("no-such-preset")


def test_overrides_are_typed_and_checked():
    params = load_preset("tripod-ideal")
    assert parse_override("pose.distance_mm=700") == ("pose.distance_mm", 700)
    assert parse_override("display.subpixels=uniform") == ("display.subpixels", "uniform")
    changed = params.with_values(dict([parse_override("pose.distance_mm=700")]))
    assert changed.pose.distance_mm == 700.0 and isinstance(changed.pose.distance_mm, float)
    assert changed.lens == params.lens
    with pytest.raises(InputError, match=r"pose\.distance"):
        params.with_values({"pose.distance": 1.0})
    with pytest.raises(InputError, match="width_px"):
        params.with_values({"sensor.width_px": 100.5})
    with pytest.raises(InputError, match=r"expected section\.key=value"):
        parse_override("novalue")


@given(seed=st.integers(0, 2**32 - 1))
def test_sampling_stays_in_the_ranges_and_changes_only_ranged_keys(seed):
    params = load_preset("handheld-offangle")
    drawn = params.sample(np.random.default_rng(seed))
    ranged = {key for key, _, _ in params.ranges}
    for section in SECTIONS:
        for field in dataclasses.fields(getattr(params, section)):
            key = f"{section}.{field.name}"
            before = getattr(getattr(params, section), field.name)
            after = getattr(getattr(drawn, section), field.name)
            if key not in ranged:
                assert after == before
    for key, lo, hi in params.ranges:
        section, name = key.split(".")
        assert lo <= getattr(getattr(drawn, section), name) <= hi


def test_sampling_with_explicit_ranges():
    params = CameraParams()
    drawn = params.sample(np.random.default_rng(1), (("sensor.jpeg_quality", 50, 60),))
    assert isinstance(drawn.sensor.jpeg_quality, int) and 50 <= drawn.sensor.jpeg_quality <= 60


def test_to_dict_round_trips_through_the_loader():
    from rig.camsim.params import params_from_dict

    params = load_preset("glossy-glare")
    data = params.to_dict()
    data["ranges"] = {k: v for k, v in data["ranges"].items()}
    assert params_from_dict(data, "round trip") == params
