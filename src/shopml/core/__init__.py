"""Shared foundations: id vocabularies, seeding, errors, safe persistence, progress."""

from shopml.core.errors import DataError, IngestError, NotFittedError, ShopMLError, ValidationError
from shopml.core.vocab import Vocab

__all__ = ["DataError", "IngestError", "NotFittedError", "ShopMLError", "ValidationError", "Vocab"]
