"""Public ELV figures the simulator is sized with, each with its source (copied from
../shared/data/elv_figures.md; check the newest publication before relying on one)."""

# ELV users per year in the Netherlands: 35,120 in 2022 (Staat van Volksgezondheid en Zorg,
# staatvenz.nl, ELV indicator; 36,685 in 2018).
NATIONAL_USERS_PER_YEAR = 35_120
# Population of the Netherlands, about 17.9 million (CBS, 2024).
NATIONAL_POPULATION = 17_900_000
# Population of Zuid-Limburg (Wlz region), about 600,000 (CBS, regional figures).
ZUID_LIMBURG_POPULATION = 600_000

# Users by product in 2018: laag complex 12,405; hoog complex 19,610; palliatief 6,420
# (staatvenz.nl) — about 32% / 51% / 17%; the rounded mix is 30 / 50 / 20.
PRODUCT_MIX = {"elv_laag": 0.30, "elv_hoog": 0.50, "elv_palliatief": 0.20}

# Average length of stay: 41 days (2017) falling to 34 days (2019) (Vektis, ELV factsheet).
MEAN_LENGTH_OF_STAY_DAYS = 34.0

# Where patients go after ELV: about half home, to Wlz care 15% (2019) (Vektis). The rest is
# split here between home with district nursing, hospital, GRZ and deceased: our assumption.
DISCHARGE_DESTINATIONS = {
    "home": 0.30,
    "home_district_nursing": 0.20,
    "wlz_institution": 0.15,
    "hospital": 0.10,
    "grz": 0.05,
    "deceased": 0.20,
}


def yearly_users(population: int) -> float:
    """ELV users a year in a region of `population`, scaled from the national figure."""
    return NATIONAL_USERS_PER_YEAR * population / NATIONAL_POPULATION
