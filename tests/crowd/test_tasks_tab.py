"""The tasks tab's logic without a browser: submit-and-next, rate limit, escaping."""

from __future__ import annotations

import pytest

from ift_chat.backends import Backends
from ift_chat.crowd.limits import RateLimiter
from ift_chat.errors import ValidationError
from ift_chat.ui.context import AppContext
from ift_chat.ui.tasks_tab import RatingDesk, view_messages

from .conftest import add_dialog


@pytest.fixture
def desk(config, store, tasks):
    ticks = iter(range(10**6))
    limiter = RateLimiter(per_second=0.01, burst=3, clock=lambda: next(ticks) * 0.001)
    return RatingDesk(AppContext(config, store, Backends()), tasks=tasks, limiter=limiter)


def test_submit_and_next_keeps_the_rating_when_no_next_item(desk, tasks, admin, responses, store):
    tasks.create_set(admin, "one", k=1)
    rater = desk.rater(None, "typed-name")  # no login configured: the typed name is the rater
    view = desk.next_view(rater, None)
    following, note = desk.submit_and_next(rater, view.item_id, None, "yes", 4, [], "", "")
    assert following is not None and following.item_id != view.item_id and "Saved" in note
    nothing, note = desk.submit_and_next(rater, following.item_id, "no such set", "no", None, [], "", "")
    assert nothing is None and "no task set named" in note
    assert store.query("select count(*) as n from ratings where rater_id = ?", [rater.id])[0]["n"] == 2


def test_rate_limit_refuses_without_writing(desk, tasks, admin, responses, store):
    tasks.create_set(admin, "fast", k=1)
    rater = desk.rater(None, "speedy")
    view = desk.next_view(rater, None)
    for _ in range(3):
        view, _ = desk.submit_and_next(rater, view.item_id, None, "yes", None, [], "", "")
    with pytest.raises(ValidationError, match="too many submissions"):
        desk.submit_and_next(rater, view.item_id, None, "yes", None, [], "", "")
    assert store.query("select count(*) as n from ratings")[0]["n"] == 3
    with pytest.raises(ValidationError, match="instruction"):
        desk.submit_and_next(rater, view.item_id, None, None, None, [], "", "")


def test_model_output_is_shown_as_text(desk, tasks, admin, store):
    store.checkpoints.register("m")
    add_dialog(store, "m", [("hi <b>there</b>", "<script>alert(1)</script> ![x](http://evil/x.png)")])
    tasks.create_set(admin, "xss", k=1)
    view = desk.next_view(desk.rater(None, "viewer"), None)
    shown = repr(view_messages(view))
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "<img" not in shown and "![x](http://evil/x.png)" in shown  # image syntax shown as text
