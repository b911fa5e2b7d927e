"""How serde_json 1.0.149 turns a JSON number into a value, digit for digit.

Without its ``float_roundtrip`` feature (crabtalk 0.0.22 does not enable
it), serde_json's number parser is *not* correctly rounded, while Python's
``float()`` and msgspec are. Near the largest double the two disagree on
whether a number is finite at all ("number out of range"), and elsewhere
on its last bit. The daemon's verdict on a step depends on it (a step's
numbers are all converted, even under unknown keys: the untagged
``StepLine`` buffers the whole value), so crabview reads numbers the same
way. In our words, for a number with a fraction or an exponent, or an
integer past u64:

1. digits go into an unsigned 64-bit significand while that does not
   overflow; after that each further integer digit is dropped and adds 1
   to the decimal exponent, and each further fraction digit is dropped
   (each fraction digit that was kept subtracts 1);
2. the explicit exponent is added, saturating at i32's limits; an exponent
   whose own digits overflow i32 gives 0 if the significand is 0 or the
   exponent is negative, else "number out of range";
3. the significand is converted to a double (one rounding) and multiplied
   by 10^e, or divided by 10^-e, using the exact doubles 1e0 … 1e308; a
   positive exponent past the table is out of range unless the significand
   is 0, a negative one first divides by 1e308 until it is in the table;
   a product that is infinite is out of range.

An integer without fraction or exponent stays an integer (serde_json's
U64 or I64) when it fits; ``-0`` is the double -0.0.
"""

from __future__ import annotations

U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
I32_MAX = (1 << 31) - 1
I32_MIN = -(1 << 31)

# Rust's float literals 1e0 … 1e308: the doubles nearest each power of ten.
POW10: tuple[float, ...] = tuple(float(f"1e{i}") for i in range(309))


class OutOfRange(Exception):
    """serde_json's "number out of range"."""


def _take_digits(significand: int, digits: bytes) -> tuple[int, int]:
    """Append digits to the significand while it fits u64: (significand, digits taken).

    Leading zeros of a zero significand are taken without looking at each
    (``0.000…01`` can be long); at most 20 further digits can ever fit.
    """
    taken = 0
    if significand == 0:
        rest = digits.lstrip(b"0")
        taken = len(digits) - len(rest)
        digits = rest
    for c in digits[:21]:
        nxt = significand * 10 + (c - 48)
        if nxt > U64_MAX:
            break
        significand = nxt
        taken += 1
    return significand, taken


def f64_from_parts(significand: int, exponent: int) -> float:
    """serde_json's ``f64_from_parts`` (positive; the caller applies the sign)."""
    f = float(significand)  # u64 as f64: round to nearest, ties to even
    while True:
        if -309 < exponent < 309:
            if exponent >= 0:
                f *= POW10[exponent]
                if f == float("inf"):
                    raise OutOfRange
            else:
                f /= POW10[-exponent]
            return f
        if f == 0.0:
            return f
        if exponent >= 0:
            raise OutOfRange
        f /= 1e308
        exponent += 308


def parse_number(text: bytes) -> int | float:
    """The value serde_json reads from a valid JSON number literal.

    Returns an ``int`` for what serde_json calls U64/I64, else a ``float``;
    raises ``OutOfRange``. ``text`` must match JSON's number grammar.
    """
    negative = text[:1] == b"-"
    body = text[1:] if negative else text
    dot = body.find(b".")
    e = body.find(b"e")
    if e < 0:
        e = body.find(b"E")
    int_end = dot if dot >= 0 else (e if e >= 0 else len(body))
    int_digits = body[:int_end]
    if dot < 0 and e < 0 and len(int_digits) <= 20:
        v = int(int_digits)
        if v <= U64_MAX:
            if not negative:
                return v
            if v == 0:
                return -0.0
            # -(significand as i64) when that stays negative, else a double
            return -v if v <= -I64_MIN else -float(v)
    significand, taken = _take_digits(0, int_digits)
    exponent = len(int_digits) - taken  # integer digits past u64 scale it up
    if dot >= 0:
        frac = body[dot + 1 : e] if e >= 0 else body[dot + 1 :]
        significand, taken = _take_digits(significand, frac)
        exponent -= taken
    if e >= 0:
        sign = body[e + 1 : e + 2]
        exp_digits = body[e + 2 :] if sign in (b"+", b"-") else body[e + 1 :]
        stripped = exp_digits.lstrip(b"0")
        exp = int(stripped or b"0") if len(stripped) <= 10 else I32_MAX + 1
        if exp > I32_MAX:
            if significand != 0 and sign != b"-":
                raise OutOfRange
            return -0.0 if negative else 0.0
        exponent = exponent - exp if sign == b"-" else exponent + exp
        exponent = max(I32_MIN, min(I32_MAX, exponent))
    f = f64_from_parts(significand, exponent)
    return -f if negative else f
