"""How the companion asks the model: the prompt, the sampling, the grammar and the reply filter, as one choice.

`TUNED` is what Papo uses (chosen on bench/companion.py, see docs/benchmarks.md); `LEGACY` is the first prompt
and settings, kept so the benchmark measures its baseline in the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

from papo.conversation.prompt import PromptStyle
from papo.conversation.spoken_grammar import SPOKEN_TEXT


@dataclass(frozen=True)
class Tuning:
    """The prompt style, the extra sampling fields, the grammar and whether replies are filtered and rules added."""

    style: PromptStyle = PromptStyle.GROUNDED
    top_p: float | None = 0.9
    repeat_penalty: float | None = 1.1
    grammar: bool = True  # llama.cpp's grammar, on the embedded server only (other servers may refuse the field)
    filtered: bool = True  # reply_filter.speakable on every reply
    reach_rules: bool = True  # the honest "não consigo" for weather, news and calls, without the model

    def request_options(self, embedded: bool) -> dict[str, object]:
        """The extra request fields: on the embedded llama.cpp server only (an OpenAI endpoint may refuse them)."""
        if not embedded:
            return {}
        options: dict[str, object] = {}
        if self.top_p is not None:
            options["top_p"] = self.top_p
        if self.repeat_penalty is not None:
            options["repeat_penalty"] = self.repeat_penalty
        if self.grammar:
            options["grammar"] = SPOKEN_TEXT
        return options


TUNED = Tuning()
LEGACY = Tuning(style=PromptStyle.LEGACY, top_p=None, repeat_penalty=None, grammar=False, filtered=False,
                reach_rules=False)  # fmt: skip
