"""Example feeds, one per platform: the documented shape each normalizer reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


def soon(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


NETFLIX: dict[str, Any] = {
    "titles": [
        {
            "netflixId": "80100172",
            "title": "The Matrix",
            "type": "movie",
            "releaseYear": 1999,
            "runtimeMinutes": 136,
            "maturityRating": "R",
            "genres": ["Sci-Fi & Fantasy", "Action & Adventure"],
            "imdbId": "tt0133093",
            "synopsis": "A hacker learns the world is a simulation.",
            "cast": ["Keanu Reeves"],
            "directors": ["Lana Wachowski"],
            "availability": [{"country": "US", "availableUntil": None, "quality": "UHD"}],
        }
    ]
}
PRIME_VIDEO: dict[str, Any] = {
    "items": [
        {
            "asin": "B00FYJ8C4Q",
            "name": "Moonlit Harbor",
            "contentType": "MOVIE",
            "year": 2021,
            "durationSeconds": 6300,
            "rating": "PG-13",
            "genres": ["Drama", "Romance"],
            "externalIds": {"imdb": "tt9900001", "tmdb": "990001"},
            "offers": [
                {
                    "marketplace": "US",
                    "type": "TVOD_RENT",
                    "price": {"amount": 3.99, "currency": "USD"},
                    "resolution": "4K",
                    "endDate": None,
                },
                {"marketplace": "US", "type": "SVOD", "resolution": "HD"},
            ],
        }
    ]
}
DISNEY_PLUS: dict[str, Any] = {
    "data": {
        "programs": [
            {
                "programId": "dp-lantern",
                "titleText": "The Paper Lantern",
                "programType": "movie",
                "releaseDate": "2018-06-01",
                "runtimeMs": 5_400_000,
                "ratingValue": "PG",
                "genreTags": ["Animation", "Kids & Family"],
                "eidr": "10.5240/AAAA-BBBB-CCCC-DDDD-EEEE-F",
                "regions": ["US", "GB"],
                "expiresAt": None,
            }
        ]
    }
}
MAX: dict[str, Any] = {
    "entries": [
        {
            "id": "max-ridge",
            "title": "Northern Ridge",
            "kind": "SERIES",
            "year": 2020,
            "runtime": "0h 52m",
            "contentRating": "TV-MA",
            "genres": ["Crime", "Thrillers & Suspense"],
            "ids": {"imdb": "tt9900002"},
            "availability": [{"territory": "US", "end": None, "tier": "ad-free"}],
        }
    ]
}
HULU: dict[str, Any] = {
    "items": [
        {
            "eab_id": "EAB::inception",
            "name": "Inception",
            "type": "movie",
            "premiere_date": "2010-07-16",
            "duration_minutes": 148,
            "rating": "PG-13",
            "genre_names": ["Science Fiction", "Action"],
            "tmdb_id": None,
            "availability": [{"region": "US", "expires": None, "package": "no_ads"}],
        }
    ]
}
APPLE_TV_PLUS: dict[str, Any] = {
    "results": [
        {
            "adamId": "umc.cmc.orchard",
            "title": "Orchard Days",
            "type": "Show",
            "releaseYear": 2022,
            "durationInSeconds": 1800,
            "contentRatings": {"US": "TV-PG"},
            "genres": [{"name": "Comedy"}, {"name": "Family"}],
            "storefronts": ["us"],
            "offerEnds": None,
        }
    ]
}
PARAMOUNT_PLUS: dict[str, Any] = {
    "content": [
        {
            "contentId": "pp-signal",
            "title": "Signal Fire",
            "mediaType": "MOVIE",
            "year": 2019,
            "length": 101,
            "mpaaRating": "R",
            "categories": ["Thriller", "War"],
            "countries": ["US"],
            "leavingDate": None,
        }
    ]
}
PEACOCK: dict[str, Any] = {
    "assets": [
        {
            "uuid": "pk-quiet-field",
            "title": "Quiet Field",
            "assetType": "programme",
            "year": 2017,
            "durationMins": 95,
            "certificate": "PG",
            "genreList": ["Documentary", "Historical"],
            "imdb": "tt9900003",
            "territories": [{"code": "US", "tier": "free", "end": None}],
        }
    ]
}

FEEDS: dict[str, dict[str, Any]] = {
    "netflix": NETFLIX,
    "prime-video": PRIME_VIDEO,
    "disney-plus": DISNEY_PLUS,
    "max": MAX,
    "hulu": HULU,
    "apple-tv-plus": APPLE_TV_PLUS,
    "paramount-plus": PARAMOUNT_PLUS,
    "peacock": PEACOCK,
}
