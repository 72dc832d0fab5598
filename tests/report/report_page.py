"""What a drawn report page offers a test: when it is ready, and how to read its sections and charts."""

READY = "document.body.dataset.charts === 'done' || document.body.dataset.charts === 'failed'"
"""True once every chart of the page was drawn (or one failed)."""
