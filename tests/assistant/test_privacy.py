"""Masking of personal data on real-looking questions in French, Dutch, German and English."""

from __future__ import annotations

import pytest
from stdnum.be import nn

from assistant.privacy import Kind, Masker, StreetWords


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker()


def _national_number(birth: str, serial: str, after_2000: bool = False) -> str:
    """A national register number with correct check digits (97 - the first nine digits mod 97)."""
    base = birth + serial
    check = 97 - int(("2" if after_2000 else "") + base) % 97
    return f"{base}{check:02d}"


VALID_NN = _national_number("850730", "033")  # 85073003328
VALID_NN_2000 = _national_number("010203", "123", after_2000=True)


def test_the_national_numbers_used_here_are_valid_and_their_neighbours_not():
    assert nn.is_valid(VALID_NN) and nn.is_valid(VALID_NN_2000)
    assert not nn.is_valid(VALID_NN[:-1] + "9")


@pytest.mark.parametrize("text, secret, kind", [
    # French
    (f"Bonjour, mon numéro national est {nn.format(VALID_NN)}, pouvez-vous vérifier mon dossier ?",
     nn.format(VALID_NN), Kind.NATIONAL_NUMBER),
    ("Mon compte est BE71 0961 2345 6769, à quel service dois-je écrire ?", "BE71 0961 2345 6769", Kind.IBAN),
    ("Appelez-moi au 0475 12 34 56 au sujet de la coopération au développement", "0475 12 34 56", Kind.PHONE),
    ("Mon numéro français : +33 6 12 34 56 78", "+33 6 12 34 56 78", Kind.PHONE),
    ("J'habite rue de la Loi 16, 1000 Bruxelles : qui s'occupe de l'ONU ?", "rue de la Loi 16, 1000 Bruxelles",
     Kind.ADDRESS),
    ("Écrivez à marie.dubois@skynet.be pour le dossier", "marie.dubois@skynet.be", Kind.EMAIL),
    ("IBAN FR76 3000 6000 0112 3456 7890 189 pour le remboursement", "FR76 3000 6000 0112 3456 7890 189", Kind.IBAN),
    # Dutch
    (f"Mijn rijksregisternummer is {VALID_NN_2000}, klopt mijn adres?", VALID_NN_2000, Kind.NATIONAL_NUMBER),
    ("Bel me op +32 475 12 34 56 over de NAVO-top", "+32 475 12 34 56", Kind.PHONE),
    ("Mijn vaste lijn is 02/501.81.11", "02/501.81.11", Kind.PHONE),
    ("Ik woon in de Wetstraat 16 bus 3, 1040 Brussel", "Wetstraat 16 bus 3, 1040 Brussel", Kind.ADDRESS),
    ("Stort het op NL91ABNA0417164300 aub", "NL91ABNA0417164300", Kind.IBAN),
    ("Mail naar jan.peeters [at] telenet.be", "jan.peeters [at] telenet.be", Kind.EMAIL),
    # German
    ("Meine Kontonummer ist DE89 3704 0044 0532 0130 00, wer ist zuständig?", "DE89 3704 0044 0532 0130 00",
     Kind.IBAN),
    ("Ich wohne in der Hauptstraße 5a, 4700 Eupen", "Hauptstraße 5a, 4700 Eupen", Kind.ADDRESS),
    ("Rufen Sie mich unter 0151 23456789 an", "0151 23456789", Kind.PHONE),
    ("Meine E-Mail: k.schmidt@gmx.de", "k.schmidt@gmx.de", Kind.EMAIL),
    # English
    ("I live at 10 Downing Street and want to know who handles NATO", "10 Downing Street", Kind.ADDRESS),
    ("My phone is 0032 2 501 81 11, call me", "0032 2 501 81 11", Kind.PHONE),
    ("Contact john.smith+dgm@example.org about the UN", "john.smith+dgm@example.org", Kind.EMAIL),
])
def test_personal_data_is_masked(masker, text, secret, kind):
    masked = masker.mask(text)
    assert secret not in masked
    assert kind.placeholder in masked, masked
    # What is around it is kept as it was.
    before = text[:text.index(secret)]
    assert masked.startswith(before)


@pytest.mark.parametrize("text", [
    f"Mijn rijksregisternummer is {VALID_NN[:-1]}9",  # check digits wrong: still a personal number
    "Numéro national 85.07.30-033.29",
    "Konto BE00 1234 5678 9012",  # IBAN-shaped, check digits wrong
    "card 4111 1111 1111 1111",
])
def test_what_fails_its_check_is_still_masked_as_a_number(masker, text):
    masked = masker.mask(text)
    assert Kind.NUMBER.placeholder in masked, masked
    assert not any(ch.isdigit() for ch in masked.split(" ", 1)[1].replace("[NUMBER]", "")), masked
    assert Kind.NATIONAL_NUMBER.placeholder not in masked and Kind.IBAN.placeholder not in masked


@pytest.mark.parametrize("text", [
    "What is Belgium doing for SDG 16 and the 2030 Agenda?",
    "Quelle est la position belge sur la résolution 2334 de 2016 ?",
    "Welke directie volgt de NAVO-top van 2025 op?",
    "Wer ist für die Rue des Petits Carmes zuständig?",  # a street without a number is no address
    "Which directorate handles M2 and the OSCE?",
])
def test_questions_without_personal_data_are_unchanged(masker, text):
    assert masker.mask(text) == text


def test_every_datum_of_one_message_goes(masker):
    text = (f"Je suis Jan, NN {VALID_NN}, IBAN BE71096123456769, tel 0475/12.34.56, "
            "mail jan@example.be, adresse avenue Louise 54, 1050 Ixelles.")
    masked = masker.mask(text)
    assert [f.kind for f in masker.find(text)] == [Kind.NATIONAL_NUMBER, Kind.IBAN, Kind.PHONE, Kind.EMAIL,
                                                   Kind.ADDRESS]
    assert not any(ch.isdigit() for ch in masked) and "@" not in masked and "Louise" not in masked


def test_none_and_empty_stay(masker):
    assert masker.mask(None) is None and masker.mask("") == ""


def test_min_digits_is_checked_and_used():
    with pytest.raises(ValueError, match="min_digits must be at least 3, got 2"):
        Masker(min_digits=2)
    assert Masker(min_digits=5).mask("ref 12 345") == "ref [NUMBER]"
    assert Masker(min_digits=7).mask("ref 12 345") == "ref 12 345"


def test_street_words_exist_for_every_language_and_unknown_ones_are_named():
    words = StreetWords.load()
    assert "rue" in words.before_name and "straat" in words.word_endings and "straße" in words.word_endings
    assert "street" in words.after_name
    with pytest.raises(ValueError, match="'xx'"):
        StreetWords.load(["xx"])
