"""The embedded model's tokens that cannot be spoken (line breaks, markup and code signs, arrows, emojis): banned.

Each reply request to the embedded llama.cpp server carries them as a `logit_bias` of -100, so the model cannot
write a list, a heading, a table, a smiley or a code block. (A GBNF grammar did the same at about twice the time
per token and ~90 MB more server memory: llama.cpp checks it against all 151,936 candidates of Qwen's vocabulary
at every token; the bias is one pass over the banned ids.) The list is read from the model's vocabulary once, in
a short child process (llama.cpp stays out of papo's own memory), and kept next to the GGUF file.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Final

from papo.conversation.llm import LlmUnavailableError
from papo.system.logging import fields

log = logging.getLogger(__name__)

BAN: Final = -100.0  # added to a banned token's logit: e^-100 is never sampled
# Control characters (line breaks), markdown and code signs, arrows, dingbats and emojis.
UNSPEAKABLE: Final = re.compile(r"[\x00-\x1F*#`_~<>|{}\[\]\\=@\u2190-\u2BFF\U0001F000-\U0001FAFF]")
# A token may hold only part of a character's UTF-8 bytes: the lead byte of a 4-byte character (emojis and the
# rest beyond the basic plane) or the first two bytes of U+2190-U+2BFF (E2 86 .. E2 AF) are enough to ban it.
_PARTIAL: Final = re.compile(rb"[\xF0-\xF4]|\xE2[\x86-\xAF]")


def unspeakable(piece: bytes) -> bool:
    """Whether a token's bytes hold something that is not spoken text."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return _PARTIAL.search(piece) is not None
    return UNSPEAKABLE.search(text) is not None


def vocabulary_bans(gguf: Path) -> list[int]:
    """The ids of the unspeakable tokens of the model in `gguf` (its vocabulary only is loaded)."""
    import llama_cpp

    model = llama_cpp.Llama(str(gguf), vocab_only=True, verbose=False)
    try:
        return [token for token in range(model.n_vocab()) if unspeakable(model.detokenize([token], special=False))]
    finally:
        model.close()


def cache_path(gguf: Path) -> Path:
    """Where the banned ids of `gguf` are kept."""
    return gguf.with_name(f"{gguf.name}.unspeakable.json")


def banned_tokens(gguf: Path) -> list[int]:
    """The banned ids of `gguf`: from the file kept beside it, else read in a child process and kept."""
    kept = cache_path(gguf)
    try:
        return _valid(json.loads(kept.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    done = subprocess.run(
        [sys.executable, "-m", __name__, str(gguf), str(kept)], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise LlmUnavailableError(f"could not read the vocabulary of {gguf.name}: {done.stderr.strip()[-300:]}")
    banned = _valid(json.loads(kept.read_text(encoding="utf-8")))
    log.info("unspeakable tokens found", extra=fields(model=gguf.name, tokens=len(banned)))
    return banned


def logit_bias(banned: list[int]) -> dict[str, float]:
    """The `logit_bias` request field that bans `banned`."""
    return {str(token): BAN for token in banned}


def _valid(value: object) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(token, int) and token >= 0 for token in value):
        raise ValueError("not a list of token ids")
    return value


def main(argv: list[str]) -> None:
    """`python -m papo.conversation.unspeakable GGUF OUT`: write the banned ids of GGUF to OUT (atomically)."""
    gguf, out = Path(argv[0]), Path(argv[1])
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(vocabulary_bans(gguf)), encoding="utf-8")
    partial.replace(out)


if __name__ == "__main__":
    main(sys.argv[1:])
