"""Shared fixtures: a tiny randomly initialised model for plumbing, the bundled model for real runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(autouse=True)
def _private_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caches, data and settings of each test go to a temporary home, never the developer's."""
    home = tmp_path_factory.mktemp("home")
    for name in ("XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, str(home / name.lower()))


@pytest.fixture(autouse=True)
def _no_deep_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deep meaning model (all-mpnet-base-v2, 438 MB) stays out unless a test asks for it: unpacking and
    reading with it would cost every test that builds indexes seconds."""
    from app.retrieval import deep_model, embeddings

    monkeypatch.setattr(deep_model, "part_files", lambda: None)
    monkeypatch.setattr(embeddings, "_deep_embedder", None)
    monkeypatch.setattr(embeddings, "_deep_problem", None)


def build_tiny_model(seed: int = 0):
    """A 2-layer Llama with a small BPE tokenizer trained on the bundled haystack: fast, real plumbing."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from app.retrieval.models import LoadedModel
    from app.retrieval.needles import haystack_text

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    raw.train_from_iterator([haystack_text()[:60000]], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    config._attn_implementation = "sdpa"
    model = LlamaForCausalLM(config).eval()
    return LoadedModel(model, tokenizer, "tiny-random-llama", "cpu", torch.float32, "tiny", scoring_layer=1)


@pytest.fixture(scope="session")
def tiny_model_session():
    return build_tiny_model()


@pytest.fixture
def tiny_model(tiny_model_session):
    """The tiny model (shared per session; its scoring layer is fixed at 1, so no calibration runs)."""
    tiny_model_session.scoring_layer = 1
    return tiny_model_session


@pytest.fixture(scope="session")
def bundled_model():
    """The real bundled SmolLM2-135M-Instruct; skips with a reason if the package is missing."""
    from app.retrieval.models import ModelLoadError, bundled_gguf_path, load_model

    try:
        bundled_gguf_path()
    except ModelLoadError as exc:
        pytest.skip(str(exc))
    return load_model("bundled", "cpu")


@pytest.fixture
def haystack() -> str:
    from app.retrieval.needles import haystack_text

    return haystack_text()


@pytest.fixture
def resources() -> Path:
    from app.paths import resources_dir

    return resources_dir()
