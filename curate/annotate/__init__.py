"""Hand data to human annotators and take their corrections back.

:mod:`curate.annotate.label_studio` turns rows into Label Studio tasks (with the current value and
any suggestion pre-filled as predictions) and folds a Label Studio JSON export back into the rows;
:mod:`curate.annotate.server` pushes those tasks to a running Label Studio and pulls the export
(label-studio-sdk 2.x, imported only when used).
"""

from __future__ import annotations

from curate.annotate.label_studio import KINDS, export_tasks, import_annotations, label_config, task_id
from curate.annotate.server import Pushed, pull_export, push_tasks

__all__ = [
    "KINDS",
    "Pushed",
    "export_tasks",
    "import_annotations",
    "label_config",
    "pull_export",
    "push_tasks",
    "task_id",
]
