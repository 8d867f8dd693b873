"""Detectors of format: JSON, title, sections, highlights, case, commas, start / end
phrases, quotation wrapping, postscript, placeholders."""

from __future__ import annotations

DETECTORS = ()
