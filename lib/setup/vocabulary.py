"""Answer words a study file cannot be guessed without: no-opinion answers, Yes/No, and the
usual orders of unnumbered rating labels (in the languages Delphi panels answer in)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["KNOWN_ORDERS", "known_order", "label_key", "is_no_opinion", "yes_no_score"]


def label_key(text: str) -> str:
    """A label as compared here: accents dropped, case-folded, one kind of apostrophe, single
    spaces, no trailing full stop.

    >>> label_key("  Não   sei. "), label_key("Don’t know")
    ('nao sei', "don't know")
    """
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    plain = re.sub(r"[\u2018\u2019\u02bc`´]", "'", plain)
    return " ".join(plain.split()).rstrip(".").strip()


# "Don't know" and its kin: answers that are no rating (counted apart, never as a score).
_NO_OPINION = {
    label_key(t)
    for t in (
        "Unable to judge", "Don't know", "Do not know", "I don't know", "Dont know", "No opinion",
        "Not sure", "Unsure", "Can't say", "Cannot say", "Can't judge", "Cannot judge",
        "Unable to answer", "Not applicable", "N/A", "Prefer not to say", "Prefer not to answer",
        "No answer", "Insufficient knowledge", "Outside my expertise", "Abstain",
        "Não sei", "Não sei responder", "Sem opinião", "Não tenho opinião", "Não se aplica",
        "Ne sais pas", "Je ne sais pas", "Sans opinion", "Pas d'avis", "Ne se prononce pas",
        "Non applicable", "No sé", "No lo sé", "Sin opinión", "No sabe", "No aplica", "NS/NC",
        "Non so", "Nessuna opinione", "Weiß nicht", "Keine Meinung", "Keine Angabe",
        "Kann ich nicht beurteilen",
    )
}  # fmt: skip
_NO_OPINION_PARTS = (
    "don't know", "do not know", "no opinion", "unable to judge", "cannot judge", "can't judge",
    "nao sei", "sem opiniao", "ne sais pas", "sans opinion", "no se", "sin opinion", "non so",
    "weiss nicht", "weiß nicht", "not applicable",
)  # fmt: skip
_YES = {"yes", "y", "sim", "oui", "si", "ja", "da", "tak"}
_NO = {"no", "n", "nao", "non", "nein", "nee", "nie"}


def is_no_opinion(text: str) -> bool:
    """Whether an answer says the panelist has no opinion.

    >>> is_no_opinion("Unable to judge"), is_no_opinion("I don’t know / not sure")
    (True, True)
    >>> is_no_opinion("Agree"), is_no_opinion("Não sei"), is_no_opinion("Ne sais pas")
    (False, True, True)
    """
    key = label_key(text)
    return key in _NO_OPINION or any(
        re.search(rf"\b{re.escape(p)}\b", key) for p in _NO_OPINION_PARTS
    )


def yes_no_score(text: str) -> int | None:
    """1 for a Yes, 0 for a No (in several languages), else None.

    >>> yes_no_score("Sim"), yes_no_score("Não"), yes_no_score("Agree")
    (1, 0, None)
    """
    key = label_key(text)
    return 1 if key in _YES else 0 if key in _NO else None


# Unnumbered labels in their usual order, lowest first (scored 1, 2, …): the coordinator checks
# them, since a form may order its options otherwise.
KNOWN_ORDERS: dict[str, tuple[str, ...]] = {
    "agreement, 4 points": ("Strongly disagree", "Disagree", "Agree", "Strongly agree"),
    "agreement, 5 points": (
        "Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree",
    ),
    "agreement, 5 points (neutral)": (
        "Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree",
    ),
    "agreement, 5 points (undecided)": (
        "Strongly disagree", "Disagree", "Undecided", "Agree", "Strongly agree",
    ),
    "agreement, 7 points": (
        "Strongly disagree", "Disagree", "Somewhat disagree", "Neither agree nor disagree",
        "Somewhat agree", "Agree", "Strongly agree",
    ),
    "agreement, 7 points (slightly)": (
        "Strongly disagree", "Disagree", "Slightly disagree", "Neither agree nor disagree",
        "Slightly agree", "Agree", "Strongly agree",
    ),
    "importance, 4 points": ("Not important", "Slightly important", "Important", "Very important"),
    "importance, 5 points": (
        "Not important", "Slightly important", "Moderately important", "Very important",
        "Extremely important",
    ),
    "importance, 5 points (not at all)": (
        "Not at all important", "Slightly important", "Moderately important", "Very important",
        "Extremely important",
    ),
    "importance, 5 points (of little)": (
        "Not important", "Of little importance", "Moderately important", "Important",
        "Very important",
    ),
    "relevance, 4 points": (
        "Not relevant", "Somewhat relevant", "Quite relevant", "Highly relevant",
    ),
    "Portuguese agreement, 5 points": (
        "Discordo totalmente", "Discordo", "Não concordo nem discordo", "Concordo",
        "Concordo totalmente",
    ),
    "Portuguese agreement, 5 points (partly)": (
        "Discordo totalmente", "Discordo parcialmente", "Neutro", "Concordo parcialmente",
        "Concordo totalmente",
    ),
    "Portuguese importance, 4 points": (
        "Nada importante", "Pouco importante", "Importante", "Muito importante",
    ),
    "Portuguese importance, 5 points": (
        "Nada importante", "Pouco importante", "Moderadamente importante", "Importante",
        "Muito importante",
    ),
    "French agreement, 4 points": (
        "Pas du tout d'accord", "Plutôt pas d'accord", "Plutôt d'accord", "Tout à fait d'accord",
    ),
    "French agreement, 5 points": (
        "Pas du tout d'accord", "Pas d'accord", "Ni d'accord ni pas d'accord", "D'accord",
        "Tout à fait d'accord",
    ),
    "Spanish agreement, 5 points": (
        "Totalmente en desacuerdo", "En desacuerdo", "Ni de acuerdo ni en desacuerdo",
        "De acuerdo", "Totalmente de acuerdo",
    ),
    "Italian agreement, 5 points": (
        "Fortemente in disaccordo", "In disaccordo", "Né d'accordo né in disaccordo",
        "D'accordo", "Fortemente d'accordo",
    ),
    "German agreement, 5 points": (
        "Stimme überhaupt nicht zu", "Stimme nicht zu", "Weder noch", "Stimme zu",
        "Stimme voll und ganz zu",
    ),
}  # fmt: skip


def known_order(labels: list[str]) -> tuple[str, dict[str, int]] | None:
    """The shortest known order holding every label (each scored by its place, from 1), else
    the one holding most of them (at least two); None when none fits.

    >>> known_order(["Agree", "Strongly agree", "Disagree"])
    ('agreement, 4 points', {'Agree': 3, 'Strongly agree': 4, 'Disagree': 2})
    """
    keys = {label: label_key(label) for label in labels}
    best: tuple[tuple[int, int], str, dict[str, int]] | None = None
    for name, order in KNOWN_ORDERS.items():
        places = {label_key(x): i for i, x in enumerate(order, start=1)}
        scores = {label: places[k] for label, k in keys.items() if k in places}
        rank = (-len(scores), len(order))
        if len(scores) >= min(2, len(labels)) and (best is None or rank < best[0]):
            best = (rank, name, scores)
    return None if best is None else (best[1], best[2])
