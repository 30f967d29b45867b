"""Queries as viewers type them, by category, with the title each one means: on the demo
catalog and on MovieLens-100K titles. Search must find the intended title in its top 3 for
every one (tests/subgraphs/catalog/test_search_quality.py); bench/search_quality.py prints the
share it finds beside a naive fuzzy matcher's."""

from __future__ import annotations

# (category, query, the intended title as the catalog displays it)
Query = tuple[str, str, str]

DEMO: list[Query] = [
    ("typo", "the shawshenk redemption", "The Shawshank Redemption"),
    ("typo", "godfater", "The Godfather"),
    ("typo", "interstelar", "Interstellar"),
    ("typo", "the matrx", "The Matrix"),
    ("typo", "lord of the rigns", "The Lord of the Rings: The Fellowship of the Ring"),
    ("typo", "ratatoullie", "Ratatouille"),
    ("missing words", "lord rings return king", "The Lord of the Rings: The Return of the King"),
    ("missing words", "empire strikes", "The Empire Strikes Back"),
    ("missing words", "silence lambs", "The Silence of the Lambs"),
    ("missing words", "grand budapest", "The Grand Budapest Hotel"),
    ("numerals", "godfather 2", "The Godfather Part II"),
    ("numerals", "terminator two", "Terminator 2: Judgment Day"),
    ("numerals", "toy story three", "Toy Story 3"),
    ("numerals", "inside out two", "Inside Out 2"),
    ("run-together", "jurassicpark", "Jurassic Park"),
    ("run-together", "reservoirdogs", "Reservoir Dogs"),
    ("run-together", "toystory2", "Toy Story 2"),
    ("run-together", "backtothefuture", "Back to the Future"),
    ("run-together", "jurasicpark", "Jurassic Park"),
    ("alternative spelling", "spiderman into the spiderverse", "Spider-Man: Into the Spider-Verse"),
    ("alternative spelling", "walle", "WALL-E"),
    ("alternative spelling", "nausicaa valley of the wind", "Nausicaä of the Valley of the Wind"),
    ("alternative spelling", "monsters inc", "Monsters, Inc."),
    (
        "alternative spelling",
        "wallace and gromit",
        "Wallace & Gromit: The Curse of the Were-Rabbit",
    ),
    ("alternative spelling", "schindlers list", "Schindler's List"),
    ("leading article", "matrix, the", "The Matrix"),
    ("leading article", "godfather, the", "The Godfather"),
    ("leading article", "dark knight, the", "The Dark Knight"),
]

MOVIELENS: list[Query] = [
    ("typo", "shawshank redemtion", "The Shawshank Redemption"),
    ("typo", "silense of the lambs", "The Silence of the Lambs"),
    ("typo", "jurasic park", "Jurassic Park"),
    ("typo", "godfathr", "The Godfather"),
    ("typo", "indepedence day", "Independence Day (ID4)"),
    ("missing words", "usual suspects", "The Usual Suspects"),
    ("missing words", "nightmare christmas", "The Nightmare Before Christmas"),
    ("missing words", "star trek wrath khan", "Star Trek: The Wrath of Khan"),
    ("missing words", "raiders lost ark", "Raiders of the Lost Ark"),
    ("numerals", "star trek 4", "Star Trek IV: The Voyage Home"),
    ("numerals", "godfather 2", "The Godfather: Part II"),
    ("numerals", "young guns 2", "Young Guns II"),
    ("numerals", "jaws two", "Jaws 2"),
    ("numerals", "alien three", "Alien 3"),
    ("numerals", "12 monkeys", "Twelve Monkeys"),
    ("run-together", "jurassicpark", "Jurassic Park"),
    ("run-together", "reservoirdogs", "Reservoir Dogs"),
    ("run-together", "toystory", "Toy Story"),
    ("run-together", "diehard", "Die Hard"),
    ("run-together", "wizardofoz", "The Wizard of Oz"),
    ("run-together", "beverlyhillscop3", "Beverly Hills Cop III"),
    ("alternative spelling", "se7en", "Seven (Se7en)"),
    ("alternative spelling", "batman and robin", "Batman & Robin"),
    ("alternative spelling", "truth about cats and dogs", "The Truth About Cats & Dogs"),
    ("alternative spelling", "star trek first contact", "Star Trek: First Contact"),
    ("leading article", "usual suspects, the", "The Usual Suspects"),
    ("leading article", "godfather, the", "The Godfather"),
    ("leading article", "lion king, the", "The Lion King"),
]
