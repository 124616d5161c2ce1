"""Date-cell texts and the date the grid reads them as (this year 2026), with and without
JavaScript: one table for the server's parser, its form POST and the browser's grid."""

from __future__ import annotations

from datetime import datetime

THIS_YEAR = 2026
#: text typed → the date stored, when the current year is THIS_YEAR
SHORT_DATES = {
    "1/2/24": datetime(2024, 1, 2),
    "12/31/46": datetime(2046, 12, 31),  # 20 years ahead: still this century
    "1/1/47": datetime(1947, 1, 1),  # 21 years ahead: last century
    "6/1/98": datetime(1998, 6, 1),
    "Jan 31, 2025": datetime(2025, 1, 31),
    "jan. 31 2025": datetime(2025, 1, 31),
    "January 5, 2030": datetime(2030, 1, 5),
    "Sept 9, 2027": datetime(2027, 9, 9),
    "31-Jan-25": datetime(2025, 1, 31),
    "2 Feb 2026": datetime(2026, 2, 2),
    "2-feb.-26": datetime(2026, 2, 2),
    " 3/4/27 ": datetime(2027, 3, 4),
    "03/31/2027": datetime(2027, 3, 31),
    "2027-03-31": datetime(2027, 3, 31),
    "3/31/2027 15:30": datetime(2027, 3, 31, 15, 30),
    "2027-03-31 15:30:05 UTC": datetime(2027, 3, 31, 15, 30, 5),
    "01/01/0050": datetime(50, 1, 1),  # a year below 100 is that year, not 1950
    "0050-01-01": datetime(50, 1, 1),
}
#: texts neither the grid's script nor the server reads as a date
NOT_DATES = (
    "2/30/24",  # no such day
    "13/1/24",
    "Ja 31, 2025",  # under three letters of a month
    "Foo 31, 2025",
    "31-Jan-025",
    "Jan 31, 25",  # a month's name takes a two-digit year only day first
    "1/2/24 10:00",  # a short date takes no time
    "1/2/2024 24:00",
    "next tuesday",
    "01/01/0000",  # no year 0 (the script's Date has one)
    "0000-01-01",
)
