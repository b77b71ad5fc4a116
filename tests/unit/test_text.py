import pytest

from papo.conversation.wake import mentions
from papo.text import fold, repeats_itself, words


def test_fold_and_words_ignore_accents_case_and_punctuation() -> None:
    assert fold("Não CAÍ") == "nao cai"
    assert words("Bom dia, Papo! São 8h.") == ["bom", "dia", "papo", "sao", "8h"]


@pytest.mark.parametrize(
    "text",
    [
        "bonchia bonchia",
        "Estou bem Estou bem Estou bem Estou",
        "que bom que bom que bom que bom que bom que",
        "Sega papu. Sega papu. Se",
        "Boa tardeu. Boa tardeu. Boa",
    ],
)
def test_repetition_loops_are_noticed(text: str) -> None:
    assert repeats_itself(text)


@pytest.mark.parametrize(
    "text",
    ["Bom dia!", "Oi, Papo!", "Estou bem.", "Hoje eu fui à feira e comprei frutas e verduras.", "Boa tarde!"],
)
def test_ordinary_speech_is_not_a_loop(text: str) -> None:
    assert not repeats_itself(text)


@pytest.mark.parametrize(
    "text", ["Papo!", "Oipapo.", "Parapapo.", "Sega papu.", "Pápo, tudo bem?", "PAPO", "Chega, Papo.", "e papo"]
)
def test_the_wake_word_is_found_however_it_was_written(text: str) -> None:
    assert mentions(text, ["papo"])


@pytest.mark.parametrize(
    "text", ["O pato nadou no lago.", "Cadê o papel?", "Um sapo pulou.", "Meu papai chegou.", "Papa-léguas", "ao papa"]
)
def test_words_that_only_sound_close_are_not_the_wake_word(text: str) -> None:
    assert not mentions(text, ["papo"])


def test_no_wake_words_means_everything_is_addressed_and_other_words_work_too() -> None:
    assert mentions("qualquer coisa", [])
    assert mentions("Lia, como vai?", ["lia"]) and not mentions("Papo, como vai?", ["lia"])
    with pytest.raises(ValueError, match="needs letters"):
        mentions("oi", ["!!"])
