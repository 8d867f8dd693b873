"""ift-chat: chat with, compare and rate fine-tuned vision-language checkpoints."""

__version__ = "0.1.0"
