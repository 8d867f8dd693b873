"""Turning stored dialogs into what the Chatbot shows, safely.

Everything a user, a rater, a model or a model server wrote is hostile. Chat content is
rendered here, on the server: markdown-it (raw HTML off, links and images off: they show
as their source text) turns it into HTML, and nh3 (the one sanitiser) keeps only a strict
allow-list of tags with no URL-bearing attribute at all, no style, no class, no form and no
svg. The Chatbot shows that HTML as it is (``render_markdown=False``, no LaTeX), so
nothing is re-interpreted in the browser. Plain texts that go into a ``gr.Markdown`` are
escaped to literal text (``md_text``); errors are plain text (``context.ui_error``).

Error texts of an anonymous battle are redacted until its reveal: backends name
themselves, their paths and servers in errors ("x failed at /models/x").
"""

from __future__ import annotations

import html
import re

import gradio as gr
import nh3
from markdown_it import MarkdownIt

from ..judge import optin
from ..store import Dialog, DialogTurn, Store
from ..store.dialog import EarlierReply
from ..store.models import Rating, Response

_LOCATION = re.compile(r"[a-z][a-z0-9+.-]*://\S+|(?<![\w.])(?:~|\.{1,2})?/[^\s'\"()<>,;]+", re.I)
_SEPARATORS = re.compile(r"[\s_\-./]+")
HIDDEN = "[hidden until the reveal]"
STATUS_NOTES = {"stopped": "⏹ stopped", "pending": "…", "error": "⚠️ error"}
FOLLOWED_BADGES = {"yes": "✅ followed", "partial": "🟡 partly followed", "no": "❌ not followed"}


# No rule that makes a URL attribute (links, images, autolinks, link references) nor raw HTML.
_MARKDOWN = (MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False})
             .enable(["table", "strikethrough"])
             .disable(["image", "link", "autolink", "reference", "html_inline", "html_block"]))
# The allow-list: text structure only. No attribute carries a URL, so nothing can be fetched or
# navigated to; user images are Chatbot file messages (the app's own image route), never HTML.
ALLOWED_TAGS = frozenset({"p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
                          "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
                          "table", "thead", "tbody", "tr", "th", "td"})
_CLEANER = nh3.Cleaner(tags=set(ALLOWED_TAGS), attributes={"ol": {"start"}}, url_schemes=set(),
                       link_rel=None, strip_comments=True,
                       clean_content_tags={"script", "style", "svg", "math", "template", "iframe",
                                           "object", "form", "textarea", "select", "noscript"})
# Every ASCII punctuation character, but "-" and "_" inside a word: they make no markup there
# (CommonMark: no intraword "_" emphasis), and names like "llava-ft_v2" stay searchable text.
_MD_ESCAPE = re.compile(r"(?!(?<=[A-Za-z0-9])[-_](?=[A-Za-z0-9]))[!-/:-@\[-`{-~]")


def clean_html(markup: str) -> str:
    """The one sanitiser: only ALLOWED_TAGS, no URL, style, class or event attribute."""
    return _CLEANER.clean(markup)


def safe_html(text: str) -> str:
    """Markdown from a user, rater or model as the HTML the page shows."""
    return clean_html(_MARKDOWN.render(text or ""))


def text_html(text: str) -> str:
    """A plain text (e.g. a server's error body) as HTML that shows it verbatim."""
    return clean_html(html.escape(text or "").replace("\n", "<br>"))


def md_text(text) -> str:
    """A plain text to interpolate into a ``gr.Markdown``: shown literally (no markup, no
    link or autolink, no HTML)."""
    text = str(text if text is not None else "")
    text = _MD_ESCAPE.sub(lambda m: {"<": "&lt;", ">": "&gt;", "&": "&amp;"}.get(m[0], "\\" + m[0]), text)
    return text.replace("\n", " ")


def chatbot(**kwargs) -> gr.Chatbot:
    """A Chatbot that shows message texts of ``html_message`` as they are: they are HTML from
    ``safe_html``; the browser adds no markdown, LaTeX, custom tags or mermaid of its own.
    No copy/share buttons: they would copy the HTML source (select the text to copy it)."""
    return gr.Chatbot(render_markdown=False, sanitize_html=True, allow_tags=False, latex_delimiters=[],
                      buttons=[], **kwargs)


def html_message(markup: str) -> dict:
    """A Chatbot text part. As a dict, not a str: Gradio dedents str contents (inspect.cleandoc),
    which would change the HTML's code blocks."""
    return {"type": "text", "text": markup}


def rating_badge(rating: Rating | None) -> str:
    if rating is None:
        return ""
    bits = [FOLLOWED_BADGES.get(rating.followed, rating.followed)]
    if rating.score:
        bits.append(f"{rating.score}/5")
    if rating.tags:
        bits.append(f"{len(rating.tags)} tag{'s' if len(rating.tags) > 1 else ''}")
    if rating.corrected_text:
        bits.append("corrected")
    return " · ".join(bits)


def auto_badge(checks: list[dict]) -> str:
    """The automatic verdicts of one reply (stored response_checks rows) as a badge:
    "auto: 2/3 — ✗ one word: 5 words"; empty when no constraint was active. Never a rating."""
    if not checks:
        return ""
    failed = [c for c in checks if not c["passed"]]
    text = f"auto: {len(checks) - len(failed)}/{len(checks)}"
    return text + "".join(f" — ✗ {c['kind'].replace('_', ' ')}: {c['detail']}" for c in failed[:2])


def judge_badge(verdicts: list[dict]) -> str:
    """Judge verdicts of one reply (judge/optin.badges) as a badge, each with its trust label:
    "judge j1: ✅ followed · 4/5 (not trusted (kappa 0.20 < 0.6 vs people, n=12))". Never a rating."""
    shown = []
    for v in verdicts:
        if v["status"] != "ok":
            verdict = "no verdict (unparsable)" if v["status"] == "unparsable" else "no verdict (judge failed)"
        else:
            verdict = FOLLOWED_BADGES.get(v["followed"], v["followed"]) + (f" · {v['score']}/5" if v["score"] else "")
        shown.append(f"judge {v['judge']}: {verdict} ({v['label']})")
    return "; ".join(shown)


def reply_html(text: str, status: str, error: str | None, badge: str = "", auto: str = "",
               judge: str = "") -> str:
    """A reply as HTML: its markdown rendered, then its status, error, rating, automatic
    checks and judge verdicts as plain text."""
    notes = []
    if status == "error":
        notes.append(f"{STATUS_NOTES['error']}: {error or 'unknown error'}")
    elif status in STATUS_NOTES:  # a reply the app cut short says why (runner caps)
        notes.append(STATUS_NOTES[status] + (f": {error}" if error else ""))
    if badge:
        notes.append(f"rated: {badge}")
    if auto:  # plain text like every note (check details can quote the reply)
        notes.append(f"🤖 {auto}")
    if judge:  # plain text too: judge names and labels come from the registry and the store
        notes.append(f"⚖ {judge}")
    body = safe_html(text) if text else ""
    if notes:
        body += f"<p><em>{text_html(' — '.join(notes))}</em></p>"
    return clean_html(body)


def names_hidden(store: Store, conversation_id: str, rater_id: int | None = None) -> bool:
    """An anonymous battle keeps its checkpoints secret from everyone (its owner included:
    votes after each turn stay blind) until its owner ends it with the reveal."""
    conversation = store.conversations.get(conversation_id)
    return conversation.mode == "arena-anonymous" and conversation.revealed is None


# What else in an error text can identify a server, beyond the names the store knows:
# "org/model" ids, host:port, IP addresses (URLs and paths are _LOCATION).
_SERVED = re.compile(r"(?<![\w.-])[\w.-]*[a-z][\w.-]*/[\w.-]+"
                     r"|(?<![\w.-])[\w.-]+:\d{2,5}\b"
                     r"|\b\d{1,3}(?:\.\d{1,3}){3}\b", re.I)


def redact_identities(store: Store, conversation_id: str, text: str) -> str:
    """``text`` without anything that identifies the conversation's checkpoints: their names,
    served model ids, display names, sources, bases and architectures (any case or
    separator), nor any path, URL, "org/model", host:port or IP address at all."""
    words = set()
    for name in store.conversations.sides(conversation_id).values():
        words.update(store.checkpoints.identities(name))
    for word in sorted(words, key=len, reverse=True):
        parts = [re.escape(p) for p in _SEPARATORS.split(word) if p]
        if parts and len("".join(parts)) >= 3:
            text = re.sub(r"[\s_\-./]*".join(parts), "\0", text, flags=re.I)
    text = _LOCATION.sub("\0", text)
    return _SERVED.sub("\0", text).replace("\0", HIDDEN)  # placeholder: HIDDEN is never re-matched


def user_message(turn: DialogTurn) -> dict:
    content: list = [{"path": str(path)} for path in turn.image_paths]
    if turn.turn.user_text:
        content.append(html_message(safe_html(turn.turn.user_text)))
    return {"role": "user", "content": content}


def chat_messages(store: Store, conversation_id: str | None, side: str, rater_id: int | None = None,
                  live: dict[str, str] | None = None, live_turn: int | None = None,
                  dialog: Dialog | None = None) -> list[dict]:
    """One pane's messages from the DB (or from `dialog`, already loaded for `rater_id`);
    `live` overrides the streaming turn's text."""
    return [message for message, _ in pane_messages(store, conversation_id, side, rater_id, live,
                                                    live_turn, dialog)]


def pane_messages(store: Store, conversation_id: str | None, side: str, rater_id: int | None = None,
                  live: dict[str, str] | None = None, live_turn: int | None = None,
                  dialog: Dialog | None = None, only_turn: int | None = None
                  ) -> list[tuple[dict, Response | None]]:
    """(message, the reply it shows or None) for one pane, in the Chatbot's order. Replies
    superseded by Regenerate or by an edit of their message stay, collapsed and marked, just
    before the turn's current reply ("earlier reply 1 of 2"): they can still be read and rated.
    `only_turn`: just the round with that index (the arena shows one row per round)."""
    if not conversation_id:
        return []
    dialog = dialog or store.dialogs.load(conversation_id, rater_id)
    earlier: dict[int, list[EarlierReply]] = {}  # by round: edited turns' replies, then regenerated ones
    for reply in dialog.earlier:
        if reply.response.side == side and only_turn in (None, reply.turn.idx):
            earlier.setdefault(reply.turn.idx, []).append(reply)
    judged = _judged(store, dialog, side)
    out: list[tuple[dict, Response | None]] = []
    for turn in dialog.turns:
        if only_turn is not None and turn.turn.idx != only_turn:
            continue
        out.append((user_message(turn), None))
        replies = sorted(earlier.pop(turn.turn.idx, []), key=lambda e: (not e.turn.superseded, e.response.id))
        current = turn.responses.get(side)
        streaming = live is not None and turn.id == live_turn
        total = len(replies) + (1 if current or streaming else 0)
        for n, reply in enumerate(replies, start=1):
            out.append((_earlier_message(store, dialog, reply, f"{n} of {total}"), reply.response))
        if streaming:
            out.append((live_message(live.get(side, "")), None))
        elif current is not None:
            note = f"reply {total} of {total} (latest)" if total > 1 else ""
            out.append((_reply_message(store, dialog, current, turn.ratings.get(current.id),
                                       turn.checks.get(current.id, []), note, judged.get(current.id, ())),
                        current))
    for replies in earlier.values():  # an edit whose new message never got stored
        for reply in replies:
            out.append((_earlier_message(store, dialog, reply, "1 of 1"), reply.response))
    return out


def _judged(store: Store, dialog: Dialog, side: str) -> dict[int, list[dict]]:
    """Judge verdicts of the replies this viewer has rated: shown beside a person's rating only
    once it is given, so a judge never anchors the ratings it is measured against."""
    if dialog.names_hidden:
        return {}
    rated = [r.id for t in dialog.turns if (r := t.responses.get(side)) is not None
             and t.ratings.get(r.id) is not None]
    return optin.badges(store, rated) if rated else {}


def _reply_message(store: Store, dialog: Dialog, response: Response, rating: Rating | None,
                   checks, note: str = "", judged=()) -> dict:
    error = response.error
    if error and response.status == "error" and dialog.names_hidden:
        error = redact_identities(store, dialog.id, error)
    markup = reply_html(response.text, response.status, error, rating_badge(rating), auto_badge(list(checks)),
                        judge_badge(list(judged)))
    if note:
        markup = clean_html(f"<p><em>{text_html(note)}</em></p>{markup}")
    return {"role": "assistant", "content": [html_message(markup)]}


def _earlier_message(store: Store, dialog: Dialog, reply: EarlierReply, position: str) -> dict:
    """A superseded reply as a collapsed block titled with why it was superseded and its rating."""
    message = _reply_message(store, dialog, reply.response, reply.rating, reply.checks)
    why = "its message was edited" if reply.turn.superseded else "regenerated"
    title = f"↩ Earlier reply {position} · superseded ({why})"
    badge = rating_badge(reply.rating)
    if badge:
        title += f" · rated: {badge}"
    if reply.turn.superseded:  # the reply answered another text: show which
        asked = f"<p><em>It answered the earlier message:</em></p><blockquote>{safe_html(reply.turn.user_text)}</blockquote>"
        message["content"] = [html_message(clean_html(asked + message["content"][0]["text"]))]
    message["metadata"] = {"title": title, "status": "done"}
    return message


def live_message(text: str) -> dict:
    """The reply being streamed."""
    return {"role": "assistant", "content": [html_message(safe_html(text) or "…")]}
