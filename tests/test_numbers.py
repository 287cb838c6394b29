"""Figures are rounded half up, the same on the page and in the export (4/14 is 28,6 %)."""

from decimal import Decimal

import pytest
from django.utils import translation

from cockpit.tables import Column, Kind, Table
from cockpit.templatetags.cockpit_tags import cell
from elvdesk.numbers import format_number, format_percentage, half_up, percentage


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        (28.571428, 1, "28.6"),
        (1.25, 1, "1.3"),  # round() gives 1.2 (ties to even, and 1.25 is exact in binary)
        (0.125, 2, "0.13"),
        (2.5, 0, "3"),
        (-1.25, 1, "-1.3"),  # half away from zero, symmetric
        (7, 1, "7.0"),
    ],
)
def test_half_up_rounds_ties_up(value, places, expected):
    assert half_up(value, places) == Decimal(expected)


def test_a_share_becomes_a_percentage_without_float_noise():
    assert percentage(4 / 14) == Decimal("28.6")
    assert percentage(0.145) == Decimal("14.5")  # 0.145 * 100 is 14.499999999999998 as a float


def test_percentages_and_numbers_read_in_the_active_language():
    with translation.override("nl"):
        assert format_percentage(4 / 14) == "28,6 %"
        assert format_number(1.25, 1) == "1,3"
    with translation.override("en"):
        assert format_percentage(4 / 14) == "28.6 %"


def test_the_page_and_the_export_show_the_same_share():
    column = Column("placed", "Placed within 24 h", Kind.SHARE)
    row = {"placed": 4 / 14}
    table = Table(key="t", title="t", definition="", columns=[column], rows=[row])
    with translation.override("nl"):
        assert cell(row, column) == "28,6 %"
    assert table.export_value(row, column) == 28.6


def test_durations_are_rounded_half_up_on_the_page_and_in_the_export():
    column = Column("median", "Median", Kind.HOURS)
    row = {"median": 1.25}
    table = Table(key="t", title="t", definition="", columns=[column], rows=[row])
    with translation.override("en"):
        assert cell(row, column) == "1.3"
    assert table.export_value(row, column) == 1.25
    assert table.export_value({"median": 0.125}, column) == 0.13
