"""Checkers of content."""

CHECKERS = {}
