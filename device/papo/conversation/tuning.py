"""How the companion asks the model: the prompt, the sampling, the banned tokens and the reply filter, as one choice.

`TUNED` is what Papo uses (chosen on bench/companion.py, see docs/benchmarks.md); `LEGACY` is the first prompt
and settings, kept so the benchmark measures its baseline in the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from papo.conversation.prompt import PromptStyle
from papo.conversation.unspeakable import logit_bias


@dataclass(frozen=True)
class Tuning:
    """The prompt style, the extra sampling fields, the token ban and whether replies are filtered and rules added."""

    style: PromptStyle = PromptStyle.GROUNDED
    top_p: float | None = 0.9
    repeat_penalty: float | None = 1.1
    ban_unspeakable: bool = True  # markup, code signs, emojis banned (unspeakable.py), on the embedded server only
    filtered: bool = True  # reply_filter.speakable on every reply
    reach_rules: bool = True  # the honest "não consigo" for weather, news and calls, without the model
    seed: int | None = None  # every reply sampled from this seed (bench/companion.py --seed); None: the server's own

    def request_options(self, embedded: bool, banned: Sequence[int] = ()) -> dict[str, object]:
        """The extra request fields: on the embedded llama.cpp server only (an OpenAI endpoint may refuse them).

        `banned` are the embedded model's unspeakable token ids (unspeakable.banned_tokens).
        """
        if not embedded:
            return {}
        options: dict[str, object] = {}
        if self.top_p is not None:
            options["top_p"] = self.top_p
        if self.repeat_penalty is not None:
            options["repeat_penalty"] = self.repeat_penalty
        if self.seed is not None:
            options["seed"] = self.seed
        if self.ban_unspeakable and banned:
            options["logit_bias"] = logit_bias(list(banned))
        return options


TUNED = Tuning()
LEGACY = Tuning(style=PromptStyle.LEGACY, top_p=None, repeat_penalty=None, ban_unspeakable=False, filtered=False,
                reach_rules=False)  # fmt: skip
