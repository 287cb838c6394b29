"""The limits on what the desk accepts, in one place (README, "Bad input").

Forms and serializers refuse longer texts and numbers outside these ranges with a field error;
the request body limit is settings.DATA_UPLOAD_MAX_MEMORY_SIZE (elvdesk/input_guard.py), the
nesting limit of JSON bodies MAX_JSON_DEPTH (elvdesk/json_parsing.py).
"""

# JSON nesting: a FHIR transaction Bundle needs about 8 levels, the bulk capacity PUT 4.
MAX_JSON_DEPTH = 32

# Free text, in characters. The model fields are TextFields without a database limit: every write
# goes through a form or serializer with these limits, and the body limit caps the rest.
MEDICAL_REASON = 4000
NOTES = 2000
# A step's reason (cancel, redirect) and the explanation of a declined offer.
REASON = 1000
# Referral.idempotency_key (CharField(max_length=100)): the Idempotency-Key header and the form's token.
IDEMPOTENCY_KEY = 100

# Whole numbers, as the PostgreSQL columns take them.
BED_COUNT = 10_000  # beds of one product at one location; keeps absurd numbers out of the counts
POSITIVE_INT = 2**31 - 1  # PositiveIntegerField (PostgreSQL integer), e.g. Capacity.version
BIG_ID = 2**63 - 1  # BigAutoField primary keys (PostgreSQL bigint)
