"""A llama.cpp grammar (GBNF) for replies that are only spoken text: no line breaks, markup, emojis or code signs.

llama.cpp's OpenAI-compatible server (llama-cpp-python's `llama_cpp.server`) takes it as the `grammar` field of a
chat completion request, and the model can then not write a list, a heading, a table, a smiley or a code block.
"""

from __future__ import annotations

from typing import Final

# Any character but control characters (line breaks), markdown and code signs, arrows, dingbats and emojis.
SPOKEN_TEXT: Final = r"""root ::= first rest*
first ::= [^\x00-\x20*#`_~<>|{}\[\]\\=@\u2190-\u2BFF\U0001F000-\U0001FAFF-]
rest ::= [^\x00-\x1F*#`_~<>|{}\[\]\\=@\u2190-\u2BFF\U0001F000-\U0001FAFF]
"""
