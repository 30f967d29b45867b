"""SQL storage shared by the subgraphs: async engines, sessions, migrations, readiness."""

from media_gateway.storage.database import Database
from media_gateway.storage.types import new_id, utcnow

__all__ = ["Database", "new_id", "utcnow"]
