"""Held-apart evaluation of the detectors (``make eval``): the corpus, its split, the scoring."""
