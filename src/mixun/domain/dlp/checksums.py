"""Check-digit and date rules shared by the number detectors (GB 11643, Luhn, GB 32100, GB 11714).

Kept in one place so that a detector, a test or a benchmark cannot disagree on what a valid number is.
"""

from __future__ import annotations

from operator import mul

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# Province-level codes of GB/T 2260 (plus 71 Taiwan, 81 Hong Kong, 82 Macao, 83 for residence permits):
# a number whose first two digits are not one of these is not a resident ID, whatever its check digit.
ID_PROVINCES = frozenset(
    ["11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82", "83"]
)

_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_valid_date(year: int, month: int, day: int) -> bool:
    """A real calendar date in a plausible birth range (1900–2099); leap years honoured."""
    if not (1900 <= year <= 2099 and 1 <= month <= 12):
        return False
    if day < 1 or day > _DAYS_IN_MONTH[month - 1]:
        return False
    if month == 2 and day == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


_ID_ZERO = 48 * sum(_ID_WEIGHTS)  # what the ASCII code of "0" adds to the weighted sum of the bytes


def gb11643_check_char(first17: str) -> str:
    """The GB 11643 check character (0–9 or X) for the first 17 digits of a resident ID number."""
    # Weighted sum of the ASCII bytes in C (map/mul), less what the "0"s contribute: ~8× faster than
    # int() per character, and this runs for every 18-digit number in every message.
    total = sum(map(mul, first17.encode("ascii"), _ID_WEIGHTS)) - _ID_ZERO
    return _ID_CHECK[total % 11]


def is_valid_id18(number: str) -> bool:
    """18-character resident ID: province, real birth date and GB 11643 check character."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    if number[:2] not in ID_PROVINCES:
        return False
    if not is_valid_date(int(number[6:10]), int(number[10:12]), int(number[12:14])):
        return False
    return gb11643_check_char(number[:17]) == number[17].upper()


def is_valid_id15(number: str) -> bool:
    """Legacy 15-digit resident ID (before 1999): province and a real 19YY birth date; no check digit."""
    if len(number) != 15 or not number.isdigit() or number[:2] not in ID_PROVINCES:
        return False
    return is_valid_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))


# Each ASCII digit's byte becomes its doubled-and-reduced Luhn value (other bytes are never looked up).
_LUHN_DOUBLE = bytes(range(48)) + bytes(2 * d - 9 if d > 4 else 2 * d for d in range(10)) + bytes(range(58, 256))


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812 Luhn check over a string of ASCII digits (bytes, slices and translate keep it in C)."""
    b = digits.encode("ascii")
    kept, doubled = b[-1::-2], b[-2::-2]
    total = sum(kept) - 48 * len(kept) + sum(doubled.translate(_LUHN_DOUBLE))
    return total % 10 == 0


# GB 32100: 31 characters, no I, O, Z, S, V (they look like digits).
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def gb32100_check_char(first17: str) -> str | None:
    """The GB 32100 check character for the first 17 characters, or None if a character is not allowed."""
    total = 0
    for c, w in zip(first17, _USCC_WEIGHTS, strict=True):
        v = _USCC_VALUE.get(c)
        if v is None:
            return None
        total += v * w
    return USCC_CHARSET[(31 - total % 31) % 31]


def gb11714_check_char(first8: str) -> str | None:
    """The GB 11714 (organisation code) check character for its first 8 characters."""
    total = 0
    for c, w in zip(first8, _ORG_WEIGHTS, strict=True):
        if c.isdigit():
            v = ord(c) - 48
        elif "A" <= c <= "Z":
            v = ord(c) - 55
        else:
            return None
        total += v * w
    r = 11 - total % 11
    return "X" if r == 10 else "0" if r == 11 else str(r)


def is_valid_uscc(code: str) -> bool:
    """Unified social credit code: charset, 6-digit region, inner GB 11714 check and outer GB 32100 check."""
    if len(code) != 18 or not code[2:8].isdigit():
        return False
    if gb32100_check_char(code[:17]) != code[17]:
        return False
    # Individually registered businesses may carry an all-zero/placeholder org code; the GB 11714
    # check still applies to the nine characters when they are a real organisation code.
    return gb11714_check_char(code[8:16]) == code[16]
