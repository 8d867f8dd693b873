"""The least a Gradio 6 chat page can do: bench_ui_latency.py --floor measures it like the app.

One Chatbot, one MultimodalTextbox, one streaming event that POSTs a fixed request body (the
bench's direct one) to vLLM with raw httpx and yields the history per delta; no database, no
other tabs. The element ids and labels are the app's, so the bench drives both alike. What
this page adds to vLLM's time to first token is what Gradio itself costs on this machine.

    python bench/ui_floor_app.py --port 7999 --body body.json --vllm-url http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gradio as gr
import httpx


def build(body: dict, vllm_url: str) -> gr.Blocks:
    client = httpx.AsyncClient(timeout=120)

    async def send(message, history):
        history = [*history, {"role": "user", "content": message["text"]},
                   {"role": "assistant", "content": ""}]
        async with client.stream("POST", f"{vllm_url}/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:]).get("choices") or []:
                    if delta := (choice.get("delta") or {}).get("content"):
                        history[-1] = {"role": "assistant", "content": history[-1]["content"] + delta}
                        yield history

    with gr.Blocks(title="floor") as demo:
        gr.Textbox(label="Your rater name", elem_id="rater-name")
        bot = gr.Chatbot(elem_id="chat-chat-single", sanitize_html=True, render_markdown=True)
        box = gr.MultimodalTextbox(elem_id="chat-input", file_types=["image"])
        new = gr.Button("New conversation", elem_id="chat-new")
        with gr.Accordion("System prompt and sampling", open=False):
            # Only so the bench can set them as in the app; the request body is fixed.
            gr.Slider(0, 2, 0.7, label="Temperature", interactive=True)
            gr.Number(512, label="Max new tokens", interactive=True)
            gr.Number(None, label="Seed (blank = random)", interactive=True)
        box.submit(send, [box, bot], [bot], show_progress="hidden", concurrency_limit=None)
        box.submit(lambda: None, None, box, queue=False, show_progress="hidden")
        new.click(lambda: [], None, bot, queue=False)
    return demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True, help="the request body, JSON")
    parser.add_argument("--vllm-url", required=True)
    args = parser.parse_args()
    build(json.loads(args.body.read_text()), args.vllm_url).launch(
        server_name="127.0.0.1", server_port=args.port, ssr_mode=False)


if __name__ == "__main__":
    main()
