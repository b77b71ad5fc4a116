from papo.speech.wordcheck import content_word_recall, content_words


def test_function_words_do_not_count() -> None:
    assert content_words("Me lembra de tomar o remédio às oito horas.") == [
        "lembra",
        "tomar",
        "remedio",
        "oito",
        "horas",
    ]


def test_recall_ignores_case_accents_punctuation_and_digits() -> None:
    assert (
        content_word_recall("Me lembra de tomar o remédio às oito horas.", "me lembra de tomar o remedio as 8 horas")
        == 1.0
    )


def test_recall_counts_missing_words() -> None:
    assert (
        content_word_recall("Me lembra de tomar o remédio às oito horas.", "Milha e embraje tomaram as oito horas")
        == 0.4
    )
