"""Who is acting, per page: each route (`/`, `/manage`, `/battle/`) renders its own header
and fills it on its own page load, so no page depends on a component of another one."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..config import Config

SAVED_NAME_KEY = "ift-chat-rater-name"


@dataclass(frozen=True)
class Identity:
    """The header's components; `name` is what handlers read (the login name when auth is on)."""

    name: gr.Textbox
    saved: gr.BrowserState
    status: gr.Markdown


def render_identity(config: Config, title: str) -> Identity:
    locked = config.auth_file is not None
    with gr.Row():
        gr.Markdown(f"## {title}")
        with gr.Column(scale=0, min_width=240):
            name = gr.Textbox(
                label="Your rater name", placeholder="required to rate or vote", max_lines=1,
                elem_id="rater-name", interactive=not locked,
                info="you are logged in" if locked else "ratings and votes are saved under this name")
            status = gr.Markdown("", elem_id="identity-status")
    # The typed name survives a reload (browser localStorage); a login wins. Gradio encrypts the
    # value with a random key per component unless given one: one fixed key lets every page (and
    # the app after a restart) read it. Not a secret: the value is a name anyone could type.
    saved = gr.BrowserState("", storage_key=SAVED_NAME_KEY, secret=SAVED_NAME_KEY)
    name.change(_keep, name, saved, api_name=False, queue=False, show_progress="hidden")
    return Identity(name=name, saved=saved, status=status)


def wire_identity(blocks: gr.Blocks, identity: Identity, logout_path: str = "logout") -> None:
    """Fill this page's header when the page loads (call inside the page's context)."""
    def fill(saved, request: gr.Request):
        username = getattr(request, "username", None)
        if username:
            return username, f"logged in as **{_plain(username)}** · [log out]({logout_path})"
        return (saved or gr.Textbox()), ""

    blocks.load(fill, [identity.saved], [identity.name, identity.status], api_name=False,
                concurrency_limit=None, show_progress="hidden")


def _keep(value):
    return value


def _plain(text: str) -> str:
    """A login name as literal markdown text (names are checked at login, this is belt and braces)."""
    return "".join(c if c.isalnum() or c in "._-@+" else "" for c in text)
