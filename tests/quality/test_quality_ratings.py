from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from rig.errors import InputError
from rig.quality.ratings import (
    Rating,
    agreement,
    consensus,
    inter_rater,
    parse_ratings_csv,
    quadratic_weighted_kappa,
    rater_order,
)

grades = st.integers(1, 4)


@pytest.mark.filterwarnings("ignore:.*only one label in common")
@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(grades, grades), min_size=2, max_size=60))
def test_qwk_matches_scikit_learn(pairs: list[tuple[int, int]]) -> None:
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    ours = quadratic_weighted_kappa(a, b)
    theirs = cohen_kappa_score(a, b, weights="quadratic", labels=[1, 2, 3, 4])
    if np.isnan(theirs):  # both raters constant: sklearn divides 0 by 0
        assert ours in (0.0, 1.0)
    else:
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_consensus_majority_ties_to_the_lower_grade() -> None:
    ratings = [Rating("a", "p1", 4), Rating("b", "p1", 4), Rating("c", "p1", 2),
               Rating("a", "p2", 4), Rating("b", "p2", 2), Rating("c", "p2", 3),
               Rating("d", "p2", 4), Rating("e", "p2", 2),
               Rating("a", "p3", 1)]
    assert consensus(ratings) == {"p1": 4, "p2": 2, "p3": 1}


def test_csv_errors_name_the_line() -> None:
    good = "rater,photo,grade\nann,s1-00000-a1,4\nbob,s1-00000-a1,3\n\n"
    assert parse_ratings_csv(good, "r.csv") == [Rating("ann", "s1-00000-a1", 4),
                                                Rating("bob", "s1-00000-a1", 3)]
    for text, message in [
        ("photo,grade\n", "r.csv line 1: the header"),
        ("rater,photo,grade\nann,p,5\n", "r.csv line 2: grade '5'"),
        ("rater,photo,grade\nann,p,4\nann,q,x\n", "r.csv line 3: grade 'x'"),
        ("rater,photo,grade\nann,p\n", "r.csv line 2: expected 3 fields"),
        ("rater,photo,grade\n,p,2\n", "r.csv line 2: rater and photo"),
        ("rater,photo,grade\nann,p,2\nann,p,3\n", "r.csv line 3: rater 'ann' already rated 'p' on line 2"),
    ]:
        with pytest.raises(InputError) as err:
            parse_ratings_csv(text, "r.csv")
        assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_rater_order_is_a_stable_per_rater_shuffle() -> None:
    photos = [f"p{i}" for i in range(40)]
    ann = rater_order(photos, "ann")
    assert sorted(ann) == sorted(photos) and ann != photos
    assert rater_order(photos, "ann") == ann  # resumable
    assert rater_order(photos, "bob") != ann  # raters do not drift together


def test_agreement_and_inter_rater() -> None:
    ann = {"p1": 4, "p2": 3, "p3": 1, "p4": 2}
    bob = {"p1": 4, "p2": 2, "p3": 1, "p5": 4}
    ag = agreement(ann, bob)
    assert ag.photos == 3 and ag.exact == pytest.approx(2 / 3) and ag.within_one == 1.0
    assert ag.qwk == pytest.approx(
        cohen_kappa_score([4, 3, 1], [4, 2, 1], weights="quadratic", labels=[1, 2, 3, 4]))
    ratings = [Rating("ann", p, g) for p, g in ann.items()] + [
        Rating("bob", p, g) for p, g in bob.items()]
    report = inter_rater(ratings)
    assert report["raters"] == 2 and report["mean_qwk"] == pytest.approx(ag.qwk)
