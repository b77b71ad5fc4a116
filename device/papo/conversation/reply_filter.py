"""What the model writes, made fit to be said: no markup, lists, emojis, links, code, clichés or doses; whole sentences.

A small model sometimes writes "**Claro!**", "1. ...", a smiley, "Como posso ajudar?", "tome 500 mg" or a line of
its own prompt ("Fui à feira com a minha vizinha.", from an example; "Se a pessoa diz…"). Each sentence is cleaned
(markup and emojis removed), and dropped if it is code, a link, an assistant's cliché or refusal, a dose or an echo
of the prompt; the reply stops at a whole sentence once it has said enough, and an unfinished last sentence (cut by
the token limit) is dropped when something was already said.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from papo.text import fold

Shape = Callable[[str, Iterable[str]], Iterator[str]]
"""What makes the model's sentences written in reply to the person's words fit to be said."""


def unshaped(heard: str, written: Iterable[str]) -> Iterator[str]:
    """The model's sentences as written (the baseline companion's shape)."""
    return iter(written)


_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\u200d\ufe0f\u2b50\u2b55\u2190-\u21ff\u2300-\u23ff]"
)
_MARKUP = re.compile(r"[*_#`~>|\[\]{}<\"“”]|^\s*(?:[-•·]|\d+[.)])\s+")
_LIST_ITEM = re.compile(r"(?:^|\s)(?:\d+[.)]|[-•·])\s+(?=\w)")
_URL = re.compile(r"https?://|www\.|\b[\w-]+\.(?:com|org|net|gov|br)\b", re.IGNORECASE)
_CODE = re.compile(r"[{}=\\]|\b(?:def|import|return|print|function|var|const)\b\s*[\w(]|\w\(\)|</?\w+>")
_CLICHES = re.compile(
    r"\bposso (?:te |lhe |a |o )?ajud|\bem que (?:eu )?posso\b|\baqui para (?:te |lhe )?ajud"
    r"|\bsou (?:uma|um) (?:ia|inteligencia artificial|assistente|modelo)"
    r"|\bcomo (?:uma? )?(?:assistente|ia|inteligencia artificial)\b|modelo de linguagem|assistente virtual"
    r"|\bgostaria de (?:algo|alguma coisa) mais\b|\bprecisa de (?:mais )?(?:alguma coisa|algo|ajuda)\b"
    r"|\bhow (?:can|may) i (?:help|assist)|\bas an? (?:ai|assistant|language model)\b|\bi(?:'m| am) an ai\b"
    r"|\blanguage model\b|\bassistente\b|\baqui est(?:a|ao) (?:uma?|alguns|algumas|as|os)\b"
    r"|\bhere (?:is|are) (?:a|some)\b|\bnao posso (?:fornecer|oferecer|dar) (?:informac|conselh|opini)"
    r"|\b(?:desculpe|sinto muito),? (?:mas )?nao (?:posso|consigo) (?:ajudar|responder|falar)"
    r"|\bi (?:can't|cannot) (?:provide|help with)\b|\bnao hesite em\b|\bficarei feliz em (?:te |lhe |o |a )?ajud"
    r"|\b(?:peco desculpas|desculpe|me desculpe) (?:pela|pelo) (?:confusao|erro|mal-entendido)"
    r"|\bnao (?:tenho acesso a|consigo fornecer) informac|\bse (?:voce )?precisar de (?:ajuda|algo|alguma coisa)\b"
    r"|\bdon't hesitate\b|\bsorry for the confusion\b"
    r"|\ba pessoa (?:diz|disse|disser|acabou|pergunt|parec|se chama)|\bvoce responde\b|\bthe person (?:says|asks)\b"
)  # the last line: the prompt's instructions read back
_DOSE_UNIT = (
    r"(?:mg|miligramas?|ml|mililitros?|g|gramas?|mcg|ui|gotas?|comprimidos?|capsulas?|pilulas?|doses?|colher(?:es)?"
    r"|sache|saches|milligrams?|drops?|tablets?|pills?|capsules?|teaspoons?)"
)
_NUMBER_WORD = (
    r"(?:\d+(?:[.,]\d+)?|meio|meia|uma?|dois|duas|tres|quatro|cinco|seis|sete|oito|nove|dez|vinte|trinta|quarenta"
    r"|cinquenta|cem|cento|duzentos|quinhentos|mil|half|one|two|three|four|five|six|ten|hundred)"
)
_DOSE = re.compile(
    rf"\b{_NUMBER_WORD}\s*(?:e meio\s*|e meia\s*)?(?:de\s+)?{_DOSE_UNIT}\b"
    rf"|\bde {_NUMBER_WORD} em {_NUMBER_WORD} horas\b|\bevery {_NUMBER_WORD} hours\b"
)
_WORDS_ENOUGH = 30  # once this many words were said, the reply ends with the sentence under way
_WORDS_MAX = 45  # a sentence that would take the reply past this is not said (unless it is the first)
_MAX_SENTENCES = 3
_ECHO_RUN = 4  # words in a row taken from the rules or an example's saying make a sentence an echo


def clean_sentence(sentence: str) -> str | None:
    """`sentence` without markup and emojis; None if it is code, a link, a cliché, a dose or nothing at all."""
    if _URL.search(sentence) or _CODE.search(sentence):
        return None
    folded = fold(sentence)
    if _CLICHES.search(folded) or _DOSE.search(folded):
        return None
    text = _EMOJI.sub("", sentence)
    text = _LIST_ITEM.sub(" ", text)
    text = _MARKUP.sub("", text)
    text = re.sub(r"\s+([.,!?;:…])", r"\1", re.sub(r"\s+", " ", text)).strip(" -–—:;,")
    if not re.search(r"\w{2,}", text):
        return None
    return text


def _runs(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", fold(text))
    return {tuple(words[i : i + _ECHO_RUN]) for i in range(len(words) - _ECHO_RUN + 1)}


class PromptEcho:
    """Tells a sentence that repeats the prompt: its rules read back, or an example's saying as if Papo had done it.

    `sources` are the texts not to repeat (four words of one in a row make an echo).
    """

    def __init__(self, sources: Iterable[str]) -> None:
        self._runs: set[tuple[str, ...]] = set()
        for text in sources:
            self._runs |= _runs(text)

    def check(self, heard: str) -> Callable[[str], bool]:
        """The echo test for a reply to `heard`: words the person said too are theirs to be taken up, not an echo."""
        echoes = self._runs - _runs(heard)
        return lambda sentence: not echoes.isdisjoint(_runs(sentence))


_BAD_NEWS = re.compile(
    r"\b(?:triste|tristeza|sozinh[ao]|solidao|saudade|faleceu|falecid[ao]|morreu|morte|perdi|luto|doente|doendo|dor"
    r"|medo|chorei|chorando|inutil|ninguem|sad|lonely|alone|died|passed away|miss (?:him|her|them)|afraid|pain)\b"
)
_CHEER = re.compile(
    r"^(?:que (?:otimo|bom|legal|maravilha|beleza|alegria|delicia)|parabens|otimo|excelente|maravilh|fantastico"
    r"|how (?:nice|great|wonderful)|great|wonderful|congratulations)\b"
)


def cheer_after(heard: str) -> Callable[[str], bool]:
    """The test for a cheer out of place ("Que ótimo!" after «meu marido faleceu»): after sad news, any cheer."""
    if _BAD_NEWS.search(fold(heard)) is None:
        return lambda sentence: False
    return lambda sentence: _CHEER.search(fold(sentence)) is not None


def finished(sentence: str) -> bool:
    """Whether `sentence` ends as a sentence does (., !, ?, …)."""
    return sentence.rstrip().endswith((".", "!", "?", "…", '"', "»"))


def speakable(sentences: Iterable[str], unfit: Callable[[str], bool] | None = None) -> Iterator[str]:
    """The sentences of a reply fit to be said, stopping at a whole sentence once enough was said.

    `unfit` tells a sentence out of place in this reply (PromptEcho.check, cheer_after): such a sentence is dropped.
    """
    said_words = 0
    said = 0
    pending: str | None = None  # the last sentence seen, held until we know whether the reply goes on
    for sentence in sentences:
        if pending is not None:
            if said and said_words + len(pending.split()) > _WORDS_MAX:
                return
            yield pending
            said += 1
            said_words += len(pending.split())
            pending = None
            if said >= _MAX_SENTENCES or said_words >= _WORDS_ENOUGH:
                return
        text = clean_sentence(sentence)
        if text is None or (unfit is not None and unfit(text)):
            continue
        if finished(text):
            if said and said_words + len(text.split()) > _WORDS_MAX:
                return
            yield text
            said += 1
            said_words += len(text.split())
            if said >= _MAX_SENTENCES or said_words >= _WORDS_ENOUGH:
                return
        else:
            pending = text
    if pending is not None and said == 0:  # an unfinished sentence is said only when it is all there is
        yield pending if finished(pending) else pending.rstrip(" ,;:") + "."
