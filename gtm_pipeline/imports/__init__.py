"""Imported lists: reading the exports people have (:mod:`table`), knowing which column is which
(:mod:`mapping`) and turning rows into companies and contacts without guessing (:mod:`plan`)."""
