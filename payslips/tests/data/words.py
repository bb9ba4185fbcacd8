"""Regenerates words.csv, the golden amounts in words, from num2words (en_IN).

num2words writes "four hundred and fifty-six"; the payslip style has no "and"
inside the rupees, no hyphens and title case, with paise after " and ".
Run: pip install num2words && python3 words.py > words.csv
"""
import random
from decimal import Decimal

from num2words import num2words


def style(n):
    w = num2words(n, lang="en_IN").replace(",", "").replace("-", " ")
    return " ".join(x.capitalize() for x in w.split() if x != "and")


def in_words(amount):
    negative = amount < 0
    paise_total = int(abs(amount) * 100)
    rupees, paise = divmod(paise_total, 100)
    out = "Minus " if negative else ""
    if rupees or not paise:
        out += "Rupees " + style(rupees)
        if paise:
            out += " and "
    if paise:
        out += style(paise) + " Paise"
    return out + " Only"


fixed = [
    "0", "0.01", "0.50", "0.99", "1", "2", "9", "10", "11", "19", "20", "21", "99",
    "100", "101", "110", "111", "199", "200", "999", "1000", "1001", "1010", "1100",
    "9999", "10000", "10001", "99999", "100000", "100001", "101000", "110000",
    "123456.50", "999999", "1000000", "1234567.89", "9999999.99", "10000000",
    "10000001", "10100000", "12345678", "99999999", "100000000", "123456789.05",
    "999999999.99", "1000000000", "9999999999.99", "-1", "-0.50", "-1234.56",
]
rng = random.Random(20261001)
randoms = []
for digits in range(1, 11):
    for _ in range(10):
        whole = rng.randrange(10 ** (digits - 1), 10**digits)
        randoms.append(f"{whole}.{rng.randrange(100):02d}")

print("amount,words")
for a in fixed + randoms:
    print(f"{a},{in_words(Decimal(a))}")
