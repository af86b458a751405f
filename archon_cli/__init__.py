"""archon: build LLM systems from inference-time techniques and search for the best one."""

__version__ = "0.1.0"
