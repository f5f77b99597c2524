"""Text helpers: folding, hashing, body normalization and removal of repeated passages."""

from __future__ import annotations

import pytest

from bot.text import (
    MIN_REPEAT_WORDS,
    clean_line,
    content_hash,
    fold,
    html_to_text,
    normalize_body,
    remove_repeats,
)

# Sentences long enough (>= 8 words) to be unmistakable when repeated.
A = "Le conseil municipal a voté le budget annuel mardi soir."
B = "Les travaux de la nouvelle médiathèque commenceront au printemps prochain."
C = "Le maire a salué un vote unanime après des mois de débats."
D = "Les associations de quartier attendent désormais le calendrier détaillé."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Économie", "economie"),
        ("  HIGH-tech\t ", "high-tech"),
        ("Straße", "strasse"),
        ("Fait   divers", "fait divers"),
        ("Ça va, Noël", "ca va, noel"),
    ],
)
def test_fold_ignores_case_accents_and_spacing(value: str, expected: str) -> None:
    assert fold(value) == expected


def test_content_hash_ignores_case_and_spacing_only() -> None:
    base = content_hash("Économie : la Bourse", "Le CAC 40  monte.\n\nFin.")
    assert base == content_hash("ÉCONOMIE :  la bourse", "le cac 40 monte. fin.")
    assert len(base) == 32
    assert base != content_hash("Économie : la Bourse", "Le CAC 40 baisse. Fin.")
    # The separator keeps title and body apart: moving a word across them changes the hash.
    assert content_hash("a b", "c") != content_hash("a", "b c")


def test_clean_line_collapses_whitespace_and_drops_controls() -> None:
    assert clean_line("  Un\ttitre\n sur\u00a0deux\x07 lignes\u200b ") == "Un titre sur deux lignes"


def test_normalize_body_keeps_paragraphs_and_collapses_spaces() -> None:
    raw = (
        "\ufeff  Premier   paragraphe,\tsuite.\x00 \r\n\r\n\r\n  Second\u00a0\u202fparagraphe.  \n"
    )
    assert normalize_body(raw) == "Premier paragraphe, suite.\n\nSecond paragraphe."


def test_normalize_body_keeps_single_line_breaks_and_is_idempotent() -> None:
    raw = "Ligne un \n ligne deux\u2028ligne trois\u2029Paragraphe\x85 suivant."
    once = normalize_body(raw)
    assert once == "Ligne un\nligne deux\nligne trois\n\nParagraphe suivant."
    assert normalize_body(once) == once


def test_remove_repeats_drops_a_quoted_sentence_with_its_quotes() -> None:
    # French closing quotes stay with their sentence: "fin. » Suite" is cut after the quote.
    text = f"{B} « {C} » {D} « {C} » Fin."
    assert remove_repeats(text) == f"{B} « {C} » {D} Fin."
    assert remove_repeats(f"{A} “{C}” {B} “{C}” Fin.") == f"{A} “{C}” {B} Fin."


def test_remove_repeats_drops_a_paragraph_repeated_on_one_line() -> None:
    # The seed's shape: whole paragraphs repeated but flattened into a single line.
    text = f"{A} {B} {C} {A} {B}"
    assert remove_repeats(text) == f"{A} {B} {C}"


def test_remove_repeats_drops_repeated_paragraphs_and_keeps_breaks() -> None:
    text = f"{A} {B}\n\n{C}\n\n{A} {B}\n\n{D}"
    assert remove_repeats(text) == f"{A} {B}\n\n{C}\n\n{D}"


def test_remove_repeats_drops_a_long_single_sentence() -> None:
    assert len(C.split()) >= MIN_REPEAT_WORDS
    assert remove_repeats(f"{A} {C} {B} {C} {D}") == f"{A} {C} {B} {D}"


def test_remove_repeats_keeps_short_sentences_that_recur() -> None:
    text = f"{A} Rien n’a changé. {B} Rien n’a changé. {C}"
    assert remove_repeats(text) == text
    # Two short sentences repeated together are still under the threshold.
    dialog = f"Oui. Non. {A} Oui. Non."
    assert remove_repeats(dialog) == dialog


def test_remove_repeats_short_sentence_inside_a_repeated_run_goes_with_it() -> None:
    text = f"{A} Rien n’a changé. {B} {C} {A} Rien n’a changé. {D}"
    assert remove_repeats(text) == f"{A} Rien n’a changé. {B} {C} {D}"


def test_remove_repeats_collapses_many_copies() -> None:
    assert remove_repeats(" ".join([A, B] * 4)) == f"{A} {B}"


def test_remove_repeats_leaves_near_duplicates() -> None:
    near = A.replace("mardi", "mercredi")
    text = f"{A} {B} {near} {C}"
    assert remove_repeats(text) == text


def test_remove_repeats_returns_text_without_repeats_unchanged() -> None:
    text = f"{A}\n{B}\n\n{C}"
    assert remove_repeats(text) is text
    assert remove_repeats("") == ""


# -- HTML to text -------------------------------------------------------------------------------


def test_html_to_text_of_a_feed_fragment() -> None:
    fragment = "<p>Le café &amp; <b>la</b> crème</p><p>Deux<br>trois</p>"
    assert normalize_body(html_to_text(fragment)) == "Le café & la crème\n\nDeux\n\ntrois"
    assert html_to_text("<script>alert(1)</script>Texte &eacute;crit<style>p {}</style>") == (
        "Texte écrit"
    )
    assert html_to_text("Sans balise &amp; avec entité") == "Sans balise & avec entité"
    assert html_to_text("un <3 deux, a < b") == "un <3 deux, a < b"
    assert html_to_text("<b></b>") == ""


def test_html_to_text_of_a_telegram_message() -> None:
    text = '<b>Titre</b> &amp; <i>x</i> &lt;ok&gt;\n\n  <a href="https://e.org">site</a>'
    assert html_to_text(text, links=" ({href})") == "Titre & x <ok>\n\n  site (https://e.org)"
    assert html_to_text(text) == "Titre & x <ok>\n\n  site"  # the layout is kept
    bare = '<a href="https://e.org/x">https://e.org/x</a>'
    assert html_to_text(bare, links=" ({href})") == "https://e.org/x"  # not shown twice


def test_html_to_text_marks_tags() -> None:
    marks = {"b": ("**", "**"), "i": ("_", "_")}
    text = "<b>Titre</b> <i>sous-titre</i> <u>souligné</u>"
    assert html_to_text(text, marks=marks) == "**Titre** _sous-titre_ souligné"
