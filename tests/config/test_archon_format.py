"""The original Archon JSON format: providers from model_type, legacy keys renamed, warnings for keys
that have no effect."""

from __future__ import annotations

from archon_cli.config import load_architecture
from archon_cli.config.archon_format import convert_archon_format, is_archon_format
from tests.conftest import ROOT

ARCH_DIR = ROOT / "architectures"


def test_archon_original_format_maps_providers_and_warns() -> None:
    arch, warnings = load_architecture(ARCH_DIR / "archon-original-format.json")
    assert arch.models() == [
        "openai/gpt-4o",
        "together_ai/Qwen/Qwen2-72B-Instruct",
        "anthropic/claude-3-5-sonnet-20240620",
    ]
    gen_together = arch.layers[0][1]
    assert gen_together.max_tokens == 2048  # from the legacy max_context_length
    assert arch.layers[2][0].length_control is True  # from the legacy misspelling length_contorl
    assert any("layers[0][0].top_k" in w and "no effect" in w for w in warnings)
    assert any("layers[1][0].samples" in w for w in warnings)


def test_archon_format_all_model_types() -> None:
    data = {
        "name": "x",
        "layers": [
            [
                {"type": "generator", "model": "m", "model_type": t, "samples": 1}
                for t in ("OpenAI_API", "Together_API", "Anthropic_API", "Groq_API", "Google_API", "vLLM")
            ]
        ],
    }
    assert is_archon_format(data)
    converted, warnings = convert_archon_format(data)
    assert [c["model"] for c in converted["layers"][0]] == [
        "openai/m",
        "together_ai/m",
        "anthropic/m",
        "groq/m",
        "gemini/m",
        "hosted_vllm/m",
    ]
    assert warnings == []
