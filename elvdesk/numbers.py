"""Rounding numbers for people: half up, the way a reader and a spreadsheet round.

Django's `number_format` cuts digits off (4/14 = 28.57 % showed as "28,5 %") and Python's
`round` rounds ties to even on a binary float (round(1.25, 1) == 1.2); a page and its export
disagreed. Every figure shown or exported goes through here, so both say "28,6".
"""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format


def half_up(value: float | int | Decimal, places: int) -> Decimal:
    # str(): the shortest decimal that reads back as this float, so 0.145 is 0.145, not 0.14499…
    return Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percentage(share: float | int | Decimal, places: int = 1) -> Decimal:
    """A share (0.2857…) as a rounded percentage (28.6)."""
    return half_up(Decimal(str(share)) * 100, places)


def format_number(value: float | int | Decimal, places: int) -> str:
    """In the active language: "28,6" in Dutch, "28.6" in English."""
    return number_format(half_up(value, places), places)


def format_percentage(share: float | int | Decimal, places: int = 1) -> str:
    return f"{number_format(percentage(share, places), places)} %"
