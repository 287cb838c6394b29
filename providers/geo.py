"""Great-circle distance: computed by the database, so lists can be ordered and paged there, and in
Python for rankings over rows already read."""

import math

from django.db.models import F, FloatField, Value
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt

EARTH_RADIUS_KM = 6371.0


def haversine_km(*, latitude: float, longitude: float, lat_field: str = "latitude", lon_field: str = "longitude"):
    """An expression for the distance in km from a fixed point to each row's coordinates."""
    lat1 = Radians(Value(latitude, output_field=FloatField()))
    lon1 = Radians(Value(longitude, output_field=FloatField()))
    lat2 = Radians(F(lat_field))
    lon2 = Radians(F(lon_field))
    a = Power(Sin((lat2 - lat1) / 2), 2) + Cos(lat1) * Cos(lat2) * Power(Sin((lon2 - lon1) / 2), 2)
    return Value(2 * EARTH_RADIUS_KM, output_field=FloatField()) * ASin(Sqrt(a))


def distance_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The same distance in Python, for rankings computed over rows already read."""
    lat1, lon1, lat2, lon2 = map(math.radians, (lat1, lon1, lat2, lon2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
