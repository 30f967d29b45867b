"""The metadata of every table, for migrations (autogeneration and the check that the
migrations build what the models describe).

Storage knows no subgraph: the product registers the modules that declare its tables
(``media_gateway.app`` registers each subgraph's models and the real-time log's), and
``target_metadata`` imports them.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

_model_modules: list[str] = []


def register_models(*modules: str) -> None:
    """Modules whose SQLModel tables the migrations describe."""
    for module in modules:
        if module not in _model_modules:
            _model_modules.append(module)


def models_registered() -> bool:
    return bool(_model_modules)


def target_metadata() -> MetaData:
    from sqlmodel import SQLModel

    if not _model_modules:
        raise RuntimeError(
            "no table models registered (the product registers them with register_models)"
        )
    for module in _model_modules:
        importlib.import_module(module)
    return SQLModel.metadata
