"""Retrieval sets (BEIR-style corpus, queries and qrels): consistency checks."""

from curate.retrieval.checks import CODES, PROBLEM_SCHEMA, QRELS_CODES, find_retrieval_problems

__all__ = ["CODES", "PROBLEM_SCHEMA", "QRELS_CODES", "find_retrieval_problems"]
