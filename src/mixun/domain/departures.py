"""The kinds of departure (离职) a person's record can carry (issue 21 item 5)."""

DEPARTURE_REASONS = ("termination", "retirement", "internal_retirement", "resignation", "transfer", "other")
