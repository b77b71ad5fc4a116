"""What the model writes, made fit to be said: no markup, lists, emojis, links, code, clichés or doses; whole sentences.

A small model sometimes writes "**Claro!**", "1. ...", a smiley, "Como posso ajudar?" or "tome 500 mg". Each
sentence is cleaned (markup and emojis removed), and dropped if it is code, a link, an assistant's cliché or a
dose; the reply stops at a whole sentence once it has said enough, and an unfinished last sentence (cut by the
token limit) is dropped when something was already said.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from papo.text import fold

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\u200d\ufe0f\u2b50\u2b55\u2190-\u21ff\u2300-\u23ff]"
)
_MARKUP = re.compile(r"[*_#`~>|\[\]{}<]|^\s*(?:[-•·]|\d+[.)])\s+")
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
    r"|\bhere (?:is|are) (?:a|some)\b"
)
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


def finished(sentence: str) -> bool:
    """Whether `sentence` ends as a sentence does (., !, ?, …)."""
    return sentence.rstrip().endswith((".", "!", "?", "…", '"', "»"))


def speakable(sentences: Iterable[str], instead: str | None = None) -> Iterator[str]:
    """The sentences of a reply fit to be said, stopping at a whole sentence once enough was said.

    `instead` is said when the model wrote something and none of it was fit to be said.
    """
    said_words = 0
    seen = False
    said = 0
    pending: str | None = None  # the last sentence seen, held until we know whether the reply goes on
    for sentence in sentences:
        seen = True
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
        if text is None:
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
    elif said == 0 and seen and instead is not None:
        yield instead
