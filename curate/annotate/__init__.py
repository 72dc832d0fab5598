"""Hand data to human annotators and take their corrections back.

:mod:`curate.annotate.label_studio` turns rows into Label Studio tasks (with the current value and
any suggestion pre-filled as predictions) and folds a Label Studio JSON export back into the rows.
"""

from __future__ import annotations

from curate.annotate.label_studio import KINDS, export_tasks, import_annotations, label_config, task_id

__all__ = ["KINDS", "export_tasks", "import_annotations", "label_config", "task_id"]
