"""The collapsed panel of system prompt and sampling params, shared by chat and arena."""

from __future__ import annotations

import gradio as gr

from ..backends import SamplingParams
from ..config import Limits
from ..errors import ValidationError


class SettingsPanel:
    def __init__(self, limits: Limits, defaults: SamplingParams = SamplingParams()):
        self.limits = limits
        self.defaults = defaults

    def render(self) -> "SettingsPanel":
        d = self.defaults
        with gr.Accordion("System prompt and sampling", open=False):
            self.system_prompt = gr.Textbox(label="System prompt", lines=2, max_lines=8,
                                            placeholder="optional; applies from the next new conversation")
            with gr.Row():
                self.temperature = gr.Slider(0, 2, value=d.temperature, step=0.05, label="Temperature")
                self.top_p = gr.Slider(0.05, 1, value=d.top_p, step=0.05, label="Top-p")
                self.max_tokens = gr.Number(value=d.max_tokens, precision=0, minimum=1,
                                            maximum=self.limits.max_tokens_cap, label="Max new tokens")
                # A text box: Gradio's Number shows a blank as 0 once rendered, so every
                # Regenerate would repeat itself.
                self.seed = gr.Textbox(value="", label="Seed (blank = random)", max_lines=1,
                                       elem_id="seed")
        return self

    @property
    def inputs(self) -> list:
        return [self.system_prompt, self.temperature, self.top_p, self.max_tokens, self.seed]

    def params(self, temperature, top_p, max_tokens, seed) -> SamplingParams:
        try:
            max_tokens = int(max_tokens) if max_tokens is not None else self.defaults.max_tokens
            seed = int(str(seed).strip()) if str(seed or "").strip() else None
        except (TypeError, ValueError):
            raise ValidationError("max tokens and seed must be whole numbers") from None
        return SamplingParams(temperature=float(temperature), top_p=float(top_p),
                              max_tokens=max_tokens, seed=seed).validate(self.limits)
