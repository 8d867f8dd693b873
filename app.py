"""Thin entry point: `python app.py [serve options]` starts the web app."""

import sys

from ift_chat.cli import main

if __name__ == "__main__":
    main(["serve", *sys.argv[1:]])
