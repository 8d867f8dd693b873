"""``ifmr``: the built-in multi-round instruction-following eval set (written for ift-chat).

56 dialogs of 4-5 rounds: twelve hand-written dialog scripts, each played on four drawn scenes
(shapes, counts, colours, drawn words: ``ifmr_scenes``), so visual questions have known
answers and references, and two text-only scripts on four topics (``text_*``: for text-only
checkpoints too). Every round states at least one verifiable constraint that
``ift_chat.checks.detect`` finds; many dialogs state a persistent one in round 1 ("from now
on ...") and test it rounds later, some override or revoke one. It is imported like any eval
set (our JSONL plus an images directory), through ``import_eval_set``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..store import Store
from .ifmr_scenes import NUMBER_WORDS, Scene
from .imports import ImportResult, import_eval_set

NAME = "ifmr"
DESCRIPTION = ("Built-in multi-round instruction following: 56 dialogs (48 with drawn images with "
               "known answers, 8 text only), 4-5 rounds, persistent constraints stated early and tested late.")

SCENES = (
    Scene("circle", "red", 3), Scene("square", "blue", 2, "CAT"), Scene("triangle", "green", 5),
    Scene("circle", "yellow", 4, "SUN"), Scene("square", "orange", 1), Scene("triangle", "purple", 6),
    Scene("circle", "blue", 2, "MAP"), Scene("square", "green", 3), Scene("triangle", "red", 4, "OWL"),
    Scene("circle", "black", 5), Scene("square", "purple", 6), Scene("triangle", "yellow", 1, "BOX"),
    Scene("circle", "green", 6), Scene("square", "red", 4, "HAT"), Scene("triangle", "blue", 3),
    Scene("circle", "orange", 1, "JAM"),
)
FRENCH = {"red": "rouges", "green": "vertes", "blue": "bleues", "yellow": "jaunes", "orange": "orange",
          "purple": "violettes", "black": "noires"}
CORNERS = {"circle": 0, "square": 4, "triangle": 3}
IMAGE = "<image>"  # marks the rounds that show the dialog's (first) scene


def _parity(n: int) -> str:
    return "odd" if n % 2 else "even"


def _yes(flag: bool) -> str:
    return "Yes." if flag else "No."


def lowercase_persists(s: Scene):
    return [
        (IMAGE, "From now on, answer in all lowercase letters. Answer in one word: what colour are the "
                "shapes in this picture?", s.colour),
        (None, f"How many {s.shape}s do you see? Your answer must contain an {_parity(s.count)} number.",
         f"i count {s.count} {s.plural}."),
        (None, "Describe the picture in at most 15 words.",
         f"{NUMBER_WORDS[s.count]} {s.colour} {s.plural} on a white background."),
        (None, "Answer yes or no: is there any text in the picture?", _yes(bool(s.word)).lower()),
    ]


def no_commas_persists(s: Scene):
    return [
        (IMAGE, "In all future responses, do not use any commas. Answer in one word: which shape is "
                "repeated in the picture?", s.shape),
        (None, "List the colour, the shape and the count as exactly 3 bullet points.",
         f"- {s.colour}\n- {s.shape}\n- {s.count}"),
        (None, "Write at least 30 words about what a child might draw next to these shapes.", None),
        (None, f"Now answer in at most 2 sentences: what would change if one {s.shape} were removed?",
         f"There would be {s.count - 1} {s.shape}s left." if s.count > 1 else "The picture would be empty."),
    ]


def ends_with_persists(s: Scene):
    return [
        (IMAGE, 'For the rest of this conversation, finish your response with "Over and out." How many '
                f"{s.shape}s are in the image?", f"There {'is' if s.count == 1 else 'are'} {s.count} "
                                                  f"{s.plural}. Over and out."),
        (None, "Answer in exactly 2 sentences: what colour are they, and what shape?",
         f"They are {s.colour} {s.plural}. Over and out."),
        (None, 'Include the word "geometry" in your answer: why are these shapes easy to draw?', None),
        (None, "Use at most 20 words: what is the background colour?", "The background is white. Over and out."),
    ]


def language_switches(s: Scene):
    return [
        (IMAGE, "Answer in French. What colour are the shapes in the picture?",
         f"Les formes sont {FRENCH[s.colour]}."),
        (None, f"Now answer in English, in at most 10 words: how many {s.shape}s are there?",
         f"There {'is' if s.count == 1 else 'are'} {NUMBER_WORDS[s.count]} {s.plural} in the picture."),
        (None, "Answer in Spanish, in at least 2 sentences: describe the picture.", None),
        (None, 'Reply only with JSON with keys "count" and "shape".',
         json.dumps({"count": s.count, "shape": s.shape})),
    ]


def json_then_plain(s: Scene):
    return [
        (IMAGE, 'Reply only with JSON with keys "shape", "colour" and "count".',
         json.dumps({"shape": s.shape, "colour": s.colour, "count": s.count})),
        (None, "Now describe the same picture in plain text, in at most 12 words.",
         f"{NUMBER_WORDS[s.count].capitalize()} {s.colour} {s.plural} on white."),
        (None, "Wrap your entire answer in double quotation marks: what colour are the shapes?",
         f'"The shapes are {s.colour}."'),
        (None, f"Answer yes or no: are there more than three {s.shape}s?", _yes(s.count > 3)),
    ]


def keyword_persists(s: Scene):
    return [
        (IMAGE, 'From now on, your response must contain the word "shape". Give your answer a title '
                "wrapped in double angular brackets, like <<title>>, and describe the image.", None),
        (None, f"How many {s.shape}s are there? Answer in at most 10 words.",
         f"There {'is' if s.count == 1 else 'are'} {s.count} of this shape."),
        (None, "Add a postscript starting with P.S. that says what colour they are.", None),
        (None, "Answer in at most 2 sentences: is the background white or black?",
         "The background behind each shape is white."),
        (None, "Answer in all capital letters: what is the shape called?", f"THIS SHAPE IS A {s.shape.upper()}."),
    ]


def sentence_rules_persist(s: Scene):
    corners = CORNERS[s.shape]
    return [
        (IMAGE, "From now on, every sentence must start with the letter S. What do you see?",
         f"Some {s.colour} {s.plural} sit on a white background."),
        (None, f"In all future responses, each sentence must have at most 10 words. How many {s.shape}s "
               "are there?", f"So, there {'is' if s.count == 1 else 'are'} {s.count}."),
        (None, f"Your answer must contain an {_parity(corners)} number: how many corners does one "
               f"{s.shape} have?", f"Simply put, a {s.shape} has {corners} corners."),
        (None, "Use at most 3 sentences: what would you call this picture?", None),
        (None, "Every sentence must end with a question mark. Ask me one thing about the colours.",
         f"Should I ask why they are {s.colour}?"),
    ]


def length_persists(s: Scene):
    return [
        (IMAGE, "From now on, answer in at most 25 words. What is drawn in the picture?",
         f"{NUMBER_WORDS[s.count].capitalize()} {s.colour} {s.plural}" + (f" and the word {s.word}." if s.word
                                                                            else ".")),
        (None, "Answer with exactly 3 bullet points: the shape, the colour and the count.",
         f"- {s.shape}\n- {s.colour}\n- {s.count}"),
        (None, f"Tell a very short story about the {s.shape}s in exactly 3 sentences.", None),
        (None, f"Answer yes or no: are the shapes {s.colour}?", "Yes."),
    ]


def word_games(s: Scene):
    return [
        (IMAGE, f'Mention the word "{s.colour}" at least twice: what colour are the shapes?',
         f"They are {s.colour}: every {s.shape} is {s.colour}."),
        (None, "Include at least 2 placeholders in square brackets like [name]: write a one-line caption "
               "for the picture.", None),
        (None, f"Use the letter z at least 3 times in a short sentence about the {s.shape}s.", None),
        (None, f'Do not use the word "{s.shape}": describe the picture in at most 20 words.',
         f"{NUMBER_WORDS[s.count].capitalize()} {s.colour} figures on a white background."),
    ]


def read_the_word(s: Scene):
    word = s.word or "NONE"
    return [
        (IMAGE, "What word is written in the picture? Answer in one word.", word),
        (None, "From now on, respond in all capital letters. Spell the word letter by letter as exactly "
               f"{len(word)} bullet points.", "\n".join(f"- {c}" for c in word)),
        (None, f"How many {s.shape}s are drawn above the word? Your answer must contain an "
               f"{_parity(s.count)} number.", f"THERE {'IS' if s.count == 1 else 'ARE'} {s.count}."),
        (None, "Answer in at most 8 words: what colour is the word written in?", "THE WORD IS BLACK."),
    ]


def two_pictures(s: Scene, t: Scene):
    return [
        (IMAGE, f"From now on, answer in all lowercase letters. How many {s.shape}s are in this picture? "
                "Answer in at most 10 words.", f"there {'is' if s.count == 1 else 'are'} {s.count}."),
        (t, "Here is a second picture. Answer in one word: what shape is repeated in it?", t.shape),
        (None, "Answer yes or no: do both pictures use the same colour?", _yes(s.colour == t.colour).lower()),
        (None, 'Reply only with JSON with keys "first" and "second", giving the number of shapes in each '
               "picture.", json.dumps({"first": s.count, "second": t.count})),
        (None, "In at most 2 sentences, which picture has more shapes?", None),
    ]


def commas_revoked(s: Scene):
    return [
        (IMAGE, "In all future responses, do not use any commas. List the colour and the shape as exactly "
                "2 bullet points.", f"- {s.colour}\n- {s.shape}"),
        (None, f"Describe the arrangement of the {s.shape}s in at least 20 words.", None),
        (None, "You can use commas again. Answer in exactly 1 sentence: which three other colours would you "
               "add?", None),
        (None, "Answer in one word: what colour is the background?", "white"),
    ]


def text_lowercase(topic: str, keyword: str):
    return [
        (None, f"From now on, answer in all lowercase letters. Describe {topic} in at most 20 words.", None),
        (None, f"List three facts about {topic} as exactly 3 bullet points.", None),
        (None, f"Answer yes or no: is {topic} a good subject for a poem?", "yes."),
        (None, f'Include the word "{keyword}" in your answer: why do people like {topic}?', None),
    ]


def text_commas(topic: str, keyword: str):
    return [
        (None, f"In all future responses, do not use any commas. Write exactly 2 sentences about {topic}.", None),
        (None, 'Reply only with JSON with the single key "topic".', json.dumps({"topic": topic})),
        (None, f"Answer in at least 30 words: how would you explain {topic} to a child?", None),
        (None, "Answer in one word: what is the opposite of hot?", "cold"),
    ]


TEXT_TOPICS = (("cats", "whiskers"), ("the ocean", "waves"), ("bicycles", "wheels"), ("tea", "leaves"))
SCRIPTS = (lowercase_persists, no_commas_persists, ends_with_persists, language_switches, json_then_plain,
           keyword_persists, sentence_rules_persist, length_persists, word_games, commas_revoked)
WORD_SCENES = tuple(s for s in SCENES if s.word)


def dialogs() -> list[tuple[str, list[tuple[Scene | None, str, str | None]]]]:
    """(id, rounds) with each round's scene (None: no image), text and reference."""
    out = []
    for n, script in enumerate(SCRIPTS):
        for k in range(4):
            scene = SCENES[(3 * n + 5 * k) % len(SCENES)]
            out.append((f"{script.__name__}-{k + 1}", _place(script(scene), scene)))
    for k in range(4):
        out.append((f"read_the_word-{k + 1}", _place(read_the_word(WORD_SCENES[k * 2]), WORD_SCENES[k * 2])))
        first, second = SCENES[k * 4 + 1], SCENES[(k * 4 + 7) % len(SCENES)]
        out.append((f"two_pictures-{k + 1}", _place(two_pictures(first, second), first)))
    for k, (topic, keyword) in enumerate(TEXT_TOPICS):  # text only: every checkpoint can answer them
        out.append((f"text_lowercase-{k + 1}", text_lowercase(topic, keyword)))
        out.append((f"text_commas-{k + 1}", text_commas(topic, keyword)))
    return out


def _place(rounds, scene: Scene):
    return [(scene if image == IMAGE else image, text, ref) for image, text, ref in rounds]


def write_jsonl(directory: Path) -> Path:
    """The set as our eval-set JSONL plus its PNGs in ``directory``; returns the JSONL path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    for item_id, rounds in dialogs():
        out = []
        for scene, text, reference in rounds:
            images = []
            if scene is not None:
                (directory / scene.filename).write_bytes(scene.png())
                images.append(scene.filename)
            out.append({"text": text, "images": images, "reference": reference})
        lines.append(json.dumps({"id": item_id, "rounds": out}))
    path = directory / f"{NAME}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def import_builtin(store: Store, name: str = NAME) -> ImportResult:
    """Import the built-in set under ``name`` (an existing set of that name is a clear error)."""
    with tempfile.TemporaryDirectory(prefix="ifmr-") as tmp:
        path = write_jsonl(Path(tmp))
        return import_eval_set(store, path, Path(tmp), name, DESCRIPTION)
