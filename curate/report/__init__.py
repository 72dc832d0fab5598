"""Run reports: terminal tables and the report file of a run."""
