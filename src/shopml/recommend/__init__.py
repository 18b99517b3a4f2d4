"""Recommenders: models that rank items for a user or a session (see ``capability.py``)."""
