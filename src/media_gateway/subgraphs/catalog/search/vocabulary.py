"""The catalog's controlled vocabularies: genres, platforms, offer types, synonyms."""

from __future__ import annotations

from media_gateway.platform.text import STOPWORDS as STOPWORDS

GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Music",
    "Mystery",
    "Romance",
    "Science Fiction",
    "Thriller",
    "War",
    "Western",
)

PLATFORMS: tuple[str, ...] = (
    "Netflix",
    "Prime Video",
    "Disney+",
    "Max",
    "Hulu",
    "Apple TV+",
    "Paramount+",
    "Peacock",
)

OFFER_TYPES: tuple[str, ...] = ("subscription", "free", "rent", "buy")

# how people name a platform (folded, words) -> the platform
PLATFORM_ALIASES: dict[str, str] = {
    "netflix": "Netflix",
    "prime video": "Prime Video",
    "amazon prime": "Prime Video",
    "amazon": "Prime Video",
    "prime": "Prime Video",
    "disney+": "Disney+",
    "disney plus": "Disney+",
    "disney": "Disney+",
    "hbo max": "Max",
    "hbo": "Max",
    "max": "Max",
    "hulu": "Hulu",
    "apple tv+": "Apple TV+",
    "apple tv plus": "Apple TV+",
    "apple tv": "Apple TV+",
    "paramount+": "Paramount+",
    "paramount plus": "Paramount+",
    "paramount": "Paramount+",
    "peacock": "Peacock",
}

# query phrases (folded) rewritten before retrieval; both sides are searched
SYNONYMS: dict[str, str] = {
    "sci-fi": "science fiction",
    "sci fi": "science fiction",
    "scifi": "science fiction",
    "sf": "science fiction",
    "rom-com": "romantic comedy",
    "romcom": "romantic comedy",
    "rom com": "romantic comedy",
    "cartoon": "animation",
    "cartoons": "animation",
    "animated": "animation",
    "anime": "animation",
    "doc": "documentary",
    "docs": "documentary",
    "documentaries": "documentary",
    "docuseries": "documentary",
    "scary": "horror",
    "spooky": "horror",
    "funny": "comedy",
    "comedies": "comedy",
    "whodunit": "mystery",
    "whodunnit": "mystery",
    "musical": "music",
    "musicals": "music",
    "cowboy": "western",
    "westerns": "western",
    "flick": "movie",
    "flicks": "movies",
    "film": "movie",
    "films": "movies",
}

# words that name a genre (folded) -> the genre; used by the natural-language parser
GENRE_WORDS: dict[str, str] = {
    "action": "Action",
    "adventure": "Adventure",
    "adventures": "Adventure",
    "animation": "Animation",
    "animated": "Animation",
    "cartoon": "Animation",
    "cartoons": "Animation",
    "comedy": "Comedy",
    "comedies": "Comedy",
    "funny": "Comedy",
    "hilarious": "Comedy",
    "crime": "Crime",
    "gangster": "Crime",
    "documentary": "Documentary",
    "documentaries": "Documentary",
    "drama": "Drama",
    "dramas": "Drama",
    "family": "Family",
    "fantasy": "Fantasy",
    "historical": "History",
    "history": "History",
    "horror": "Horror",
    "scary": "Horror",
    "music": "Music",
    "musical": "Music",
    "musicals": "Music",
    "mystery": "Mystery",
    "mysteries": "Mystery",
    "romance": "Romance",
    "romantic": "Romance",
    "science fiction": "Science Fiction",
    "sci-fi": "Science Fiction",
    "sci fi": "Science Fiction",
    "scifi": "Science Fiction",
    "thriller": "Thriller",
    "thrillers": "Thriller",
    "war": "War",
    "western": "Western",
    "westerns": "Western",
}


def genre_key(name: str) -> str | None:
    """The canonical genre for a name in any case ("science fiction" -> "Science Fiction")."""
    lowered = name.strip().lower()
    for genre in GENRES:
        if genre.lower() == lowered:
            return genre
    return GENRE_WORDS.get(lowered)


def platform_key(name: str) -> str | None:
    lowered = " ".join(name.strip().lower().split())
    for platform in PLATFORMS:
        if platform.lower() == lowered:
            return platform
    return PLATFORM_ALIASES.get(lowered)
