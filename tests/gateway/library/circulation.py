"""circulation: counts loans of every Holding without knowing its implementations.

Features: @interfaceObject (`Holding` is an interface in books, an object here), and a root
field returning interface objects whose concrete types only books knows.
"""

from __future__ import annotations

import strawberry

from . import data


@strawberry.federation.interface_object(keys=["id"])
class Holding:
    id: strawberry.ID

    @strawberry.field
    def times_borrowed(self) -> int:
        return data.TIMES_BORROWED[self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Holding:
        return Holding(id=id)


@strawberry.type
class Query:
    @strawberry.field
    def popular_holdings(self) -> list[Holding]:
        ranked = sorted(data.TIMES_BORROWED.items(), key=lambda kv: -kv[1])
        return [Holding(id=strawberry.ID(i)) for i, n in ranked if n >= 10]


schema = strawberry.federation.Schema(query=Query, types=[Holding])
