"""Loads the reference tables shipped in providers/data/ (used by a data migration)."""

import csv
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"


def read_rows(filename: str) -> list[dict]:
    with open(DATA_DIR / filename, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_reference_data(apps) -> None:
    """Insert or update products, features, insurers and PC4 centroids. Safe to run twice."""
    Product = apps.get_model("providers", "Product")
    Feature = apps.get_model("providers", "Feature")
    Insurer = apps.get_model("providers", "Insurer")
    PostcodeArea = apps.get_model("providers", "PostcodeArea")
    for row in read_rows("products.csv"):
        Product.objects.update_or_create(
            code=row["code"],
            defaults={"name": row["name"], "is_elv": row["is_elv"] == "1", "sort_order": int(row["sort_order"])},
        )
    for row in read_rows("features.csv"):
        Feature.objects.update_or_create(code=row["code"], defaults={"name": row["name"]})
    for row in read_rows("insurers.csv"):
        Insurer.objects.update_or_create(uzovi=row["uzovi"], defaults={"name": row["name"]})
    existing = set(PostcodeArea.objects.values_list("pc4", flat=True))
    PostcodeArea.objects.bulk_create(
        [
            PostcodeArea(pc4=row["pc4"], latitude=float(row["lat"]), longitude=float(row["lon"]))
            for row in read_rows("nl_pc4_centroids.csv")
            if row["pc4"] not in existing
        ],
        batch_size=1000,
    )
