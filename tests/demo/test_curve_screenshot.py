"""docs/per-round-curve.png from real stored data: four text items of the built-in eval set
replayed on both real demo models (transformers), every reply checked by the runner's hook, and
the leaderboard tab's "automatic checks vs human ratings" curve drawn in a real browser.

The human side is a scripted rater, not a person: it answers the app's rating question ("did it
follow THIS turn's instruction?") from the stored verdicts of the constraints stated in that turn
only, so it misses a "from now on" rule that a later reply drops. The automatic curve (PIF over
every active constraint) counts those too: the gap between the two curves is that difference."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from ift_chat.backends import Backends, SamplingParams
from ift_chat.dataloop.replay import replay_eval_set
from ift_chat.demo import DEMO_NAMES
from ift_chat.leaderboard.following import RatingFilters, load_ratings
from ift_chat.leaderboard.pif import auto_vs_human, load_checks, per_reply
from tests.conftest import ARTIFACTS
from tests.demo.test_demo_models import import_subset
from tests.ui.conftest import running_app

pytestmark = pytest.mark.slow

ITEMS = ("text_lowercase-1", "text_commas-1", "text_lowercase-2", "text_commas-2")  # text only, 4 rounds
PARAMS = SamplingParams(temperature=0, max_tokens=40)
TITLE = "automatic checks (solid) vs human ratings"


def rate_own_turn_constraints(store, eval_set: str) -> int:
    """The scripted rater (see the module doc): yes when every constraint stated in the reply's own
    turn passed (strict), no otherwise. Returns the number of ratings written."""
    rater = store.raters.get_or_create("scripted-rater").id
    replies = store.query(
        """select r.id, t.idx from responses r join turns t on t.id = r.turn_id
           join conversations c on c.id = t.conversation_id join eval_items i on i.id = c.eval_item_id
           join eval_sets s on s.id = i.eval_set_id where s.name = ?""", [eval_set])
    for reply in replies:
        stated_here = reply["idx"] - 1  # source_turn_idx counts rounds from 0, turns.idx from 1
        own = [c for c in store.checks.for_response(reply["id"]) if c["source_turn_idx"] == stated_here]
        followed = "yes" if own and all(c["passed"] for c in own) else "no"
        store.feedback.rate(reply["id"], rater, followed, score=5 if followed == "yes" else 1)
    return len(replies)


def test_per_round_curve_screenshot(config, store, tmp_path, local_backends, browser):
    import_subset(store, tmp_path, ITEMS, "ifmr-text4")
    # In a thread: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(asyncio.run, replay_eval_set(store, local_backends, "ifmr-text4", list(DEMO_NAMES),
                                                          PARAMS)).result()
    assert result.errors == 0 and result.responses == len(ITEMS) * 4 * len(DEMO_NAMES)
    assert rate_own_turn_constraints(store, "ifmr-text4") == result.responses
    filters = RatingFilters(eval_set="ifmr-text4")
    table = auto_vs_human(per_reply(load_checks(store, filters)), load_ratings(store, filters))
    assert set(table["source"]) == {"automatic", "human"} and set(table["round"]) == {1, 2, 3, 4}
    assert table["followed"].between(0, 1).all() and (table["lower"] <= table["upper"]).all()
    print("\n" + table.round(2).to_string(index=False))
    with running_app(config, store, Backends()) as url:
        page = browser.new_page(viewport={"width": 2300, "height": 1200})
        page.set_default_timeout(60_000)
        page.goto(url + "/manage")
        page.get_by_role("button", name="Refresh leaderboard").click()
        plot = page.locator(".js-plotly-plot", has_text=TITLE).first
        plot.wait_for()
        page.wait_for_timeout(1000)  # plotly's transitions
        assert "smollm2-135m-instruct" in plot.inner_text()
        plot.screenshot(path=str(ARTIFACTS / "per-round-curve.png"))
        page.close()
