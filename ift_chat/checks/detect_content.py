"""Detectors of content: response language, yes/no and other fixed answers, keywords
(included, excluded, how often), letters, numbers."""

from __future__ import annotations

DETECTORS = ()
