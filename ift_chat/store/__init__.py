"""The SQLite store: one object holding the connection and one repository per topic."""

from __future__ import annotations

from ..config import Config
from .browse import Browse
from .checks import Checks
from .conversations import Conversations
from .db import Transactor, open_database
from .dialog import Dialog, Dialogs, DialogTurn
from .evalsets import EvalSets
from .feedback import Checkpoints, Feedback
from .images import ImageStore, PreparedImage, prepare_image
from .judges import Judges
from .raters import Raters

__all__ = ["Store", "Dialog", "DialogTurn", "PreparedImage", "prepare_image"]


class Store(Transactor):
    def __init__(self, config: Config):
        super().__init__(open_database(config.db_path, config.db_busy_timeout_s), config.db_busy_timeout_s)
        self.config = config
        self.images = ImageStore(self, config.images_dir, config.limits)
        self.conversations = Conversations(self, self.images, config.limits)
        self.dialogs = Dialogs(self, config.images_dir)
        self.raters = Raters(self)
        self.checkpoints = Checkpoints(self)
        self.feedback = Feedback(self)
        self.eval_sets = EvalSets(self)
        self.checks = Checks(self)
        self.judges = Judges(self, config.images_dir)
        self.browse = Browse(self)  # read models of the conversation browser and replay results
