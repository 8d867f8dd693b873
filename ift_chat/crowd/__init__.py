"""Crowd rating: rater accounts and roles, task sets with overlap, gold items, agreement."""
