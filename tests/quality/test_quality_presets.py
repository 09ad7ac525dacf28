"""The camera presets produce every grade, and the default preset passes the gate."""

from __future__ import annotations

import pytest

from rig.camsim import preset_names
from rig.config import QualityConfig
from rig.devices.backends import DEFAULT_SIM_PRESET
from rig.quality.simulated import SimulatedPair, simulate_pair

PATIENT = 7


@pytest.fixture(scope="module")
def nominal() -> dict[str, SimulatedPair]:
    return {name: simulate_pair(PATIENT, name, 0) for name in preset_names()}


@pytest.mark.slow
def test_presets_span_every_grade(nominal: dict[str, SimulatedPair]) -> None:
    assert {"tripod-ideal", "glossy-glare", "dim-room", "handheld-offangle", "defocus",
            "motion-blur"} <= set(nominal)
    grades = {name: pair.grade.grade for name, pair in nominal.items() if pair.grade}
    assert len(grades) == len(nominal)  # every nominal photo registers
    # The far end of the defocus preset's range is unusable.
    far = simulate_pair(PATIENT, "defocus", 0, overrides={"lens.defocus_px": 7.0})
    assert far.grade is not None and far.grade.grade == 1
    assert set(grades.values()) | {far.grade.grade} == {1, 2, 3, 4}


@pytest.mark.slow
def test_default_and_ideal_presets_pass_and_bad_ones_say_why(
    nominal: dict[str, SimulatedPair]
) -> None:
    # The default gate (min_grade 2) retakes only unusable photos; a lab that wants the
    # glare and blur presets retaken sets min_grade = 3, which the good presets still pass.
    assert QualityConfig().min_grade == 2
    min_grade = 3
    for good in (DEFAULT_SIM_PRESET, "tripod-ideal"):
        grade = nominal[good].grade
        assert grade is not None and grade.grade == 4 and grade.passes(min_grade)
    for bad, reason in (("glossy-glare", "glare covers"), ("defocus", "blurred"),
                        ("motion-blur", "blurred")):
        grade = nominal[bad].grade
        assert grade is not None and not grade.passes(min_grade)
        assert grade.reasons[0].startswith(reason)
