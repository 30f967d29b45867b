"""The demo account of the embedded default, shared by the subgraphs that seed its data.

Each subgraph seeds only its own part (identity the account, sync the watchlist, playback
the history, recommendations the co-watch data), keyed by the same fixed user id, so the
seed works both in one process and with every subgraph running as its own service.
"""

from __future__ import annotations

DEMO_USER_ID = "00000000000040008000000000000001"
DEMO_EMAIL = "demo@media-gateway.example"
DEMO_PASSWORD = "watch-something-good"
DEMO_DISPLAY_NAME = "Demo Viewer"

# content ids of the demo catalog (see media_gateway/subgraphs/catalog/demo/)
DEMO_WATCHLIST = (
    "movie:dune-part-two-2024",
    "movie:the-grand-budapest-hotel-2014",
    "movie:spirited-away-2001",
    "series:the-bear-2022",
    "movie:arrival-2016",
)
# (content id, minutes watched, runtime minutes, days ago, finished)
DEMO_HISTORY = (
    ("movie:the-matrix-1999", 136, 136, 30, True),
    ("movie:inception-2010", 148, 148, 21, True),
    ("movie:interstellar-2014", 169, 169, 14, True),
    ("movie:blade-runner-2049-2017", 71, 164, 3, False),
    ("movie:the-dark-knight-2008", 152, 152, 10, True),
    ("movie:mad-max-fury-road-2015", 44, 120, 1, False),
    ("movie:parasite-2019", 58, 132, 2, False),
    ("movie:alien-1979", 117, 117, 40, True),
)
