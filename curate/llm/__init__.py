"""Large language models behind an OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama,
hosted APIs): a cached, concurrent client on the ``openai`` SDK and the prompts of synthetic QA generation."""

from curate.llm.client import ChatClient, Choice, Completion, Sampling, Usage
from curate.llm.prompts import PAIRS_SCHEMA, ParsedPairs, PromptTemplate, QAPair, parse_pairs

__all__ = [
    "PAIRS_SCHEMA",
    "ChatClient",
    "Choice",
    "Completion",
    "ParsedPairs",
    "PromptTemplate",
    "QAPair",
    "Sampling",
    "Usage",
    "parse_pairs",
]
