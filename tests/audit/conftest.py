# The referral desk fixtures (a region with one free bed, a submitted referral …).
from tests.referrals.conftest import accepted, desk, offer, searching, submitted  # noqa: F401
