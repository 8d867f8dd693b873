"""Checkers of format."""

CHECKERS = {}
