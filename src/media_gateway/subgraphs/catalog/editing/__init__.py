"""Catalog editing by the platform's editors: validated, versioned, audited, undoable."""

from media_gateway.subgraphs.catalog.editing.service import CatalogEditor, History, Version
from media_gateway.subgraphs.catalog.editing.validation import (
    EditConflict,
    EditError,
    EditNotFound,
    FieldError,
)

__all__ = [
    "CatalogEditor",
    "EditConflict",
    "EditError",
    "EditNotFound",
    "FieldError",
    "History",
    "Version",
]
