"""The version of curate, defined here only (the build reads it; ``curate.__version__`` re-exports it)."""

__version__ = "0.1.0"
