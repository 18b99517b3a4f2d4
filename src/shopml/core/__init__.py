"""Shared foundations: id vocabularies, seeding, errors, safe persistence, progress."""

from shopml.core.errors import DataError, IngestError, ShopMLError, ValidationError
from shopml.core.vocab import Vocab

__all__ = ["DataError", "IngestError", "ShopMLError", "ValidationError", "Vocab"]
