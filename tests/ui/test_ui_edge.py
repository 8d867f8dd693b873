"""The one UI edge: ui_guarded turns our errors into gr.Error for every kind of handler."""

from __future__ import annotations

import asyncio
import inspect

import gradio as gr
import pytest

from ift_chat.errors import ValidationError
from ift_chat.ui.context import ui_guarded


def sync_handler(x, request: gr.Request = None):
    raise ValidationError(f"bad <b>{x}</b>")


async def async_handler(x):
    raise ValidationError(f"bad <b>{x}</b>")


def gen_handler(x):
    yield 1
    raise ValidationError(f"bad <b>{x}</b>")


async def agen_handler(x):
    yield 1
    raise ValidationError(f"bad <b>{x}</b>")


async def _drain_async(gen):
    return [u async for u in gen]


@pytest.mark.parametrize("handler", [sync_handler, async_handler, gen_handler, agen_handler],
                         ids=lambda h: h.__name__)
def test_our_errors_become_escaped_gr_errors(handler):
    wrapped = ui_guarded(handler)
    # Gradio inspects the handler: the kind and the signature must stay.
    assert inspect.signature(wrapped) == inspect.signature(handler)
    assert inspect.isasyncgenfunction(wrapped) == inspect.isasyncgenfunction(handler)
    assert inspect.isgeneratorfunction(wrapped) == inspect.isgeneratorfunction(handler)
    assert inspect.iscoroutinefunction(wrapped) == inspect.iscoroutinefunction(handler)
    with pytest.raises(gr.Error) as caught:
        if inspect.isasyncgenfunction(wrapped):
            asyncio.run(_drain_async(wrapped("x")))
        elif inspect.isgeneratorfunction(wrapped):
            list(wrapped("x"))
        elif inspect.iscoroutinefunction(wrapped):
            asyncio.run(wrapped("x"))
        else:
            wrapped("x")
    assert "&lt;b&gt;x&lt;/b&gt;" in caught.value.message and caught.value.title == "Can't accept that"


def test_other_errors_pass_through():
    @ui_guarded
    def boom():
        raise KeyError("not ours")
    with pytest.raises(KeyError):
        boom()
