"""Judge models: a served checkpoint or an OpenAI-compatible server rates stored turns.

Judges are raters of their own kind (``judge:<name>@<rubric hash>``); their verdicts are stored
apart from human ratings and never mixed in. Before a judge's numbers mean anything, the
agreement gate (``agreement.gate``) measures it against people on the same replies.
"""

from .agreement import DEFAULT_THRESHOLD, Gate, conversation_scores, gate, pair_summary, trust_label
from .config import JudgeSpec, default_rubric, load_judges, make_spec
from .jobs import JobResult, judge_backend, run_job
from .parse import parse_pair, parse_single

__all__ = ["DEFAULT_THRESHOLD", "Gate", "JobResult", "JudgeSpec", "conversation_scores", "default_rubric",
           "gate", "judge_backend", "load_judges", "make_spec", "pair_summary", "parse_pair", "parse_single",
           "run_job", "trust_label"]
