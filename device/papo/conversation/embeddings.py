"""Sentence embeddings offline: all-MiniLM-L6-v2 int8 ONNX through onnxruntime, cached in sled."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from papo.cache import VectorCache
from papo.system.cpu_budget import current_budget

MODEL_NAME = "minilm-l6-v2-int8"
DIMENSIONS = 384
_MAX_TOKENS = 128


class MiniLmEmbedder:
    """Mean-pooled, L2-normalised 384-dimensional embeddings of short texts."""

    def __init__(self, model_dir: Path, cache: VectorCache) -> None:
        self._dir = model_dir
        self._cache = cache

    @cached_property
    def _tokenizer(self) -> object:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    @cached_property
    def _session(self) -> object:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = current_budget().embedding_threads
        options.inter_op_num_threads = 1
        return ort.InferenceSession(str(self._dir / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> list[npt.NDArray[np.float32]]:
        """One vector per text; vectors already computed come from the cache."""
        keys = [self._cache.key(MODEL_NAME, text) for text in texts]
        vectors: list[npt.NDArray[np.float32] | None] = [self._cache.get(key) for key in keys]
        missing = [i for i, vector in enumerate(vectors) if vector is None or len(vector) != DIMENSIONS]
        if missing:
            computed = self._compute([texts[i] for i in missing])
            for index, vector in zip(missing, computed, strict=True):
                vectors[index] = vector
                self._cache.put(keys[index], vector)
        return [v for v in vectors if v is not None]

    def _compute(self, texts: list[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(texts)  # type: ignore[attr-defined]
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(  # type: ignore[attr-defined]
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
