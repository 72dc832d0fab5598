"""Large language models behind an OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama,
hosted APIs): a cached, retrying, concurrent client and the prompts of synthetic QA generation."""

from curate.llm.client import ChatClient, Completion, Usage
from curate.llm.prompts import ParsedPairs, PromptTemplate, QAPair, parse_pairs

__all__ = ["ChatClient", "Completion", "ParsedPairs", "PromptTemplate", "QAPair", "Usage", "parse_pairs"]
