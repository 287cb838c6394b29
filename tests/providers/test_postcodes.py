"""Dutch postcodes are validated and normalised ("6411 AB") and located by their PC4 centroid."""

import csv

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from providers.models import PostcodeArea
from providers.postcodes import normalise_pc4, normalise_postcode, postcode_area
from providers.reference_data import DATA_DIR

MALFORMED = ["", "64", "6411", "641 AB", "6411 A", "6411 ABC", "0411 AB", "ABCD EF", "6411 SA", "6411 SS", "hello"]


def _known_pc4s() -> set[str]:
    with open(DATA_DIR / "nl_pc4_centroids.csv", newline="", encoding="utf-8") as handle:
        return {row["pc4"] for row in csv.DictReader(handle)}


# 6000 is not a PC4 area in the shipped centroid table (9999 is: it exists, near Uithuizermeeden).
UNKNOWN_PC4 = "6000"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize("value", ["6411ab", "6411AB", "6411 ab", " 6411 AB ", "6411 AB", "6411-ab"])
def test_a_postcode_is_normalised_to_four_digits_space_two_capitals(value):
    assert normalise_postcode(value) == "6411 AB"


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_postcode_gives_a_clear_message(value):
    with pytest.raises(ValidationError) as caught:
        normalise_postcode(value)

    assert caught.value.messages == ["Enter a valid Dutch postcode, for example 6411 AB."]
    assert caught.value.code == "invalid_postcode"


def test_a_missing_postcode_gives_the_same_message():
    with pytest.raises(ValidationError, match="valid Dutch postcode"):
        normalise_postcode(None)


@pytest.mark.parametrize(
    ("value", "pc4"), [("6411", "6411"), ("6411 AB", "6411"), ("6212ab", "6212"), (" 6411 ", "6411")]
)
def test_a_full_postcode_or_only_its_four_digits_gives_the_pc4(value, pc4):
    assert normalise_pc4(value) == pc4


@pytest.mark.parametrize("value", ["0411", "641", "64111", "abcd"])
def test_a_bad_pc4_gives_the_postcode_message(value):
    with pytest.raises(ValidationError, match="valid Dutch postcode"):
        normalise_pc4(value)


def test_the_unknown_pc4_used_by_these_tests_is_really_missing_from_the_table():
    known = _known_pc4s()
    assert UNKNOWN_PC4 not in known
    assert "6411" in known


@pytest.mark.django_db
def test_the_pc4_table_is_loaded_by_the_migration():
    assert PostcodeArea.objects.count() == len(_known_pc4s())
    assert PostcodeArea.objects.filter(pc4__startswith="6").count() > 300


@pytest.mark.django_db
def test_postcode_area_finds_the_centroid_of_a_postcode():
    area = postcode_area("6411ab")

    assert area.pc4 == "6411"
    assert area.latitude == pytest.approx(50.8875)
    assert area.longitude == pytest.approx(5.9756)


@pytest.mark.django_db
@pytest.mark.parametrize("value", [f"{UNKNOWN_PC4} AA", UNKNOWN_PC4])
def test_an_unknown_pc4_gives_the_unknown_area_message(value):
    with pytest.raises(ValidationError) as caught:
        postcode_area(value)

    assert caught.value.messages == [f"Postcode area {UNKNOWN_PC4} is unknown; check the postcode."]
    assert caught.value.code == "unknown_pc4"


@pytest.mark.django_db
def test_a_malformed_postcode_is_reported_before_looking_up_the_area():
    with pytest.raises(ValidationError) as caught:
        postcode_area("64 AB")

    assert caught.value.code == "invalid_postcode"
