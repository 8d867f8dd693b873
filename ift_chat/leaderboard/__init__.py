"""Leaderboard and analysis: Bradley–Terry ratings from votes, per-round instruction following."""

from .bradley_terry import Leaderboard, PairTable, bradley_terry
from .following import RatingFilters
from .report import Report, ReportOptions, build_report, write_report
from .votes import VoteFilters, load_pairs

__all__ = ["Leaderboard", "PairTable", "bradley_terry", "RatingFilters", "Report", "ReportOptions",
           "build_report", "write_report", "VoteFilters", "load_pairs"]
