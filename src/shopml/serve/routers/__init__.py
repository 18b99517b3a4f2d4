"""One router per capability; each is included only where its capability exists."""
