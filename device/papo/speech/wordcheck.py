"""Content-word recall: how many of the meaningful words of a sentence a transcript recovered."""

from __future__ import annotations

from papo.text import fold
from papo.text import words as plain_words

# Portuguese and English function words: articles, prepositions, pronouns, auxiliaries.
STOPWORDS = frozenset(
    """a o as os um uma uns umas de do da dos das em no na nos nas por pelo pela para pra com sem e ou mas
    que se me te lhe eu tu ele ela nós vós eles elas meu minha meus minhas seu sua seus suas é são foi ser
    estar está estou ao aos à às isso isto esse essa este esta hoje já não sim muito mais the a an of to in
    on at and or but is are was were be i you he she it we they my your his her our their this that""".split()
)
NUMBERS = {
    "1": "um", "2": "dois", "3": "três", "4": "quatro", "5": "cinco", "6": "seis", "7": "sete",
    "8": "oito", "9": "nove", "10": "dez", "11": "onze", "12": "doze",
}  # fmt: skip


def words(text: str) -> list[str]:
    """Lower-case, accent-folded words of `text`, digits spelled out."""
    return [fold(NUMBERS.get(token, token)) for token in plain_words(text)]


def content_words(text: str) -> list[str]:
    """The words of `text` that carry meaning (no function words)."""
    folded_stops = {fold(w) for w in STOPWORDS}
    return [w for w in words(text) if w not in folded_stops]


def content_word_recall(expected: str, heard: str) -> float:
    """Fraction of the expected content words present in what was heard (1.0 when none expected)."""
    wanted = content_words(expected)
    if not wanted:
        return 1.0
    got = set(words(heard))
    return sum(1 for w in wanted if w in got) / len(wanted)
