"""Verifiable per-turn instruction checks (IFEval / MMMT-IF style), persistent across turns.

detect(text) finds the constraints one user turn states; active_constraints(user_texts)
those in force for the last turn; check_reply(reply, constraints) the verdicts;
record_for_response(store, response_id) checks a stored reply and stores the verdicts.
"""

from .checkers import check_reply, summary
from .detection import detect
from .explain import explain
from .jobs import check_stored_response, record_for_response, run_checks
from .model import CHECKER_VERSION, REVOKE, Constraint, Verdict
from .scope import active_constraints
from .text import warm_up

__all__ = ["CHECKER_VERSION", "REVOKE", "Constraint", "Verdict", "detect", "active_constraints",
           "check_reply", "summary", "explain", "record_for_response", "check_stored_response", "run_checks", "warm_up"]
