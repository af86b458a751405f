"""API keys are used but never written: not in results, the cache, stdout or stderr, even when a
provider's error message echoes the request headers back."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.testing import FaultPlan, FaultServer
from tests.reliability import FAST_RETRY, eval_args, only_run_dir, run_parallel, summary_json, write_architecture

OPENAI_KEY = "sk-planted-SECRET-123"  # the echoing server also quotes it without "sk-"
GATEWAY_KEY = "gw-planted-OTHER-4567"  # read through a custom api_key_env whose name does not look like a key
SHORT_KEY = "Qx9Kz7"  # under 8 characters, through another custom api_key_env
ENV = {"OPENAI_API_KEY": OPENAI_KEY, "MY_GATEWAY_CREDENTIAL": GATEWAY_KEY, "MY_SHORT_CREDENTIAL": SHORT_KEY}
LEAKS = (OPENAI_KEY, GATEWAY_KEY, SHORT_KEY, "planted-SECRET", "planted-OTHER")


def _two_generators(path: Path, api_base: str) -> Path:
    """Layer 0: one generator on the provider's usual key, two on keys named by api_key_env."""
    base = {"type": "generator", "model": "openai/fake-model", "api_base": api_base, "timeout": 5.0}
    # Different max_tokens: requests that differ only in their key are one request (and cache entry).
    gateway = {**base, "api_key_env": "MY_GATEWAY_CREDENTIAL", "max_tokens": 17}
    short = {**base, "api_key_env": "MY_SHORT_CREDENTIAL", "max_tokens": 18}
    return write_architecture(path, api_base, name="three-keys", layers=[[{**base, "max_tokens": 16}, gateway, short]])


def _files_leaking(root: Path) -> list[str]:
    leaking = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(secret.encode() in data for secret in LEAKS):
                leaking.append(str(path.relative_to(root)))
    return leaking


def test_keys_are_sent_but_never_stored_or_printed(tmp_path: Path) -> None:
    echoing = FaultPlan(error_500=0.5, error_429=0.5, retry_after=0.01, echo_headers=True)
    with FaultServer(FaultPlan(latency=0.01)) as good, FaultServer(echoing) as leaky:
        arch = _two_generators(tmp_path / "arch.yaml", good.api_base)
        leaky_arch = _two_generators(tmp_path / "leaky.yaml", leaky.api_base)
        prompt = ("--prompt", "What is 2 + 3? Answer with just the number.", "--trace", "--json", *FAST_RETRY)
        results = run_parallel(
            ("run", str(arch), *prompt, "--cache-dir", str(tmp_path / "cache-run")),
            eval_args(arch, tmp_path / "results", tmp_path / "cache-eval", 5),
            ("run", str(leaky_arch), *prompt, "--max-attempts", "2", "--cache-dir", str(tmp_path / "cache-leaky-run")),
            eval_args(leaky_arch, tmp_path / "leaky-results", tmp_path / "cache-leaky-eval", 3, "--max-attempts", "2"),
            env=ENV,
        )
        seen = {"good": good.authorizations(), "leaky": leaky.authorizations()}

    # The keys were used: each server received both in its Authorization header.
    for authorizations in seen.values():
        assert sorted(authorizations) == sorted(f"Bearer {k}" for k in (OPENAI_KEY, GATEWAY_KEY, SHORT_KEY))
    ok_run, ok_eval, leaky_run, leaky_eval = results
    assert ok_run.code == 0 and ok_eval.code == 0, (ok_run.stderr, ok_eval.stderr)
    assert "layer 0: generator" in ok_run.stderr  # the trace was printed
    assert leaky_run.code == 1 and leaky_eval.code == 1, (leaky_run.stderr, leaky_eval.stderr)

    # The provider's error echoed the headers; archon kept the message but not the key.
    reasons = " ".join(summary_json(leaky_eval.stdout)["error_reasons"])
    assert "Authorization: Bearer ***" in reasons, reasons
    assert (only_run_dir(tmp_path / "leaky-results") / "questions.jsonl").read_text().count("Bearer ***") >= 3

    for result in results:
        for stream in (result.stdout, result.stderr):
            assert not [s for s in LEAKS if s in stream], stream
    assert _files_leaking(tmp_path) == []


def test_every_configured_key_is_scrubbed_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from archon_cli.llm.litellm_backend import redact_secrets

    monkeypatch.setenv("OPENAI_API_KEY", "sk-Tiny7")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "1")
    message = "HTTP 401: key sk-Tiny7 (or Tiny7) refused; gateway key k9 refused; 1 retry"
    cleaned = redact_secrets(message, ["k9"])
    assert cleaned == "HTTP 401: key *** (or ***) refused; gateway key *** refused; *** retry"


def test_redaction_of_provider_messages() -> None:
    from archon_cli.llm.litellm_backend import redact_secrets

    message = (
        'Error 401: {"headers": {"Authorization": "Bearer abc.def-123456", "x-api-key": "zz-9876543210"}}, '
        "api_key=plainvalue42 key sk-proj-AbCdEf123456 custom token-from-env-777"
    )
    cleaned = redact_secrets(message, ["token-from-env-777"])
    for secret in ("abc.def-123456", "zz-9876543210", "plainvalue42", "sk-proj-AbCdEf123456", "token-from-env-777"):
        assert secret not in cleaned
    assert cleaned.startswith('Error 401: {"headers": {"Authorization": "Bearer ***"')
