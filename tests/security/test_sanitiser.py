"""The renderer's output (render.safe_html / reply_html / text_html) parsed back: only the
allow-listed tags, no attribute but ``ol start``, on the probe's vectors and on 3,000
generated markdown/HTML mixes. The browser tests check the same texts in Chromium."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from ift_chat.ui import render
from ift_chat.ui.render import ALLOWED_TAGS, md_text, reply_html, safe_html, text_html
from tests.security.xss_vectors import VECTORS, corpus


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    handle_startendtag = handle_starttag


def elements(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


def assert_inert(markup: str) -> None:
    found = elements(markup)
    assert set(found.tags) <= ALLOWED_TAGS, markup
    for tag, name, value in found.attrs:  # only a list's start number
        assert (tag, name) == ("ol", "start") and (value or "").isdigit(), markup


@pytest.mark.parametrize("name", list(VECTORS))
def test_each_vector_renders_inert(name):
    text = VECTORS[name]
    for markup in (safe_html(text), reply_html(text, "error", text), text_html(text)):
        assert_inert(markup)


def test_generated_mixes_render_inert():
    texts = corpus(3000)
    assert len(set(texts)) > 2500  # the generator really varies
    for text in texts:
        assert_inert(safe_html(text))
        assert_inert(reply_html(text, "error", text, "✅ followed"))


def test_the_old_escaper_is_gone():
    """One sanitiser: the regex escaper that disagreed with the markdown renderer is removed."""
    assert not hasattr(render, "safe_markdown")


def test_markdown_still_reads_as_markdown():
    html = safe_html("**bold** and `a < b`\n\n```python\nif a < b:\n    print('x')\n```\n\n- one\n- two")
    assert "<strong>bold</strong>" in html and "<code>a &lt; b</code>" in html
    assert "<pre><code>if a &lt; b:\n    print('x')\n</code></pre>" in html  # indentation kept
    assert "<li>one</li>" in html
    # HTML, links and images show as their text
    html = safe_html("<b>x</b> [l](http://evil.example/) ![i](http://evil.example/i.png)")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "[l](http://evil.example/)" in html
    assert "![i](http://evil.example/i.png)" in html


def test_md_text_is_literal_in_markdown():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])  # raw HTML on, as in the browser
    for text in [*VECTORS.values(), "www.evil.example", "a_b_ *c* [x](y)"]:
        out = md.render(md_text(text))
        assert_inert(out)
        assert "<a " not in out and "<img" not in out and "<em>" not in out
