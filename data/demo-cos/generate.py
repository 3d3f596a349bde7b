"""Seeded generator of a synthetic multi-stakeholder core outcome set (COS) Delphi on adult acne.

Run ``python data/demo-cos/generate.py`` to (re)write ``acne_cos_delphi.xlsx`` next to this file,
laid out like the Google Sheet that Google Forms fills (three round tabs, Statements and Panel),
as ``data/demo/generate.py`` lays out the first demo.  Forty panelists in three stakeholder groups
(16 patients, 16 dermatologists, 8 researchers) rate candidate outcomes on the GRADE 1–9 scale
(1–3 not important, 4–6 important but not critical, 7–9 critical).  An outcome leaves the
questionnaire once the COMET 70/15 rule holds in *every* group (the study's ``[groups]`` choice);
the others are rated again with each group's results as feedback.  Patients value quality of life,
psychological impact and visible marks more, dermatologists lesion counts and physician-assessed
outcomes, researchers sit in between; a few outcomes are critical for patients and not for
dermatologists (``DISCORDANT``).  More patients than professionals drop out between rounds.
The layout itself (submission times, columns, cells, the .xlsx, reading it back) is
``data/forms_layout.py``, shared with the first demo's generator.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent.parent))  # data/, for forms_layout
import forms_layout as forms  # data/ is not a package

SEED = 20260302
OUT_PATH = Path(__file__).resolve().with_name("acne_cos_delphi.xlsx")
# A multiple-choice grid whose columns are "1 - Not important", "2", … "9 - Critical": Google
# Sheets stores the unlabelled columns as numbers.
END_LABELS = {1: "1 - Not important", 9: "9 - Critical"}
UNABLE = "Unable to score"
UTS = forms.NO_OPINION  # internal code for "Unable to score"; None is an unanswered (blank) cell
AGREE, DISAGREE = 7, 3  # critical: 7–9; not important: 1–3
THRESHOLD, MAX_OPPOSITE = 0.70, 0.15  # COMET 70/15
P_OWN = 0.4  # chance a panelist moves one step toward their own group's median last round
P_PANEL = 0.35  # chance they move one step toward the whole panel's median (all-groups feedback)
P_DRIFT = 0.05  # chance a carried rating drifts one step at random

PATIENT, DERMATOLOGIST, RESEARCHER = "Patient", "Dermatologist", "Researcher"
GROUPS = (PATIENT, DERMATOLOGIST, RESEARCHER)
DOMAINS = (
    "Acne lesions and severity",
    "Scarring and skin marks",
    "Skin symptoms",
    "Psychological and social impact",
    "Treatment experience and safety",
    "Long-term control",
)

Rating = forms.Rating  # 1..9, UTS (0) or None (blank)


@dataclass(frozen=True)
class Outcome:
    """A candidate outcome as rated in one round, with each group's latent opinion."""

    sid: str
    domain: str
    text: str
    mu: tuple[float, float, float]  # latent mean importance (1..9) of patients, derm., researchers
    sd: float  # spread of opinion within a group
    revised_from: str | None = None
    shift: float = 0.0  # how much a revised wording moves opinion


@dataclass(frozen=True)
class Panelist:
    """An invited panel member."""

    email: str
    name: str
    group: str
    country: str
    years: int | None  # years of experience (professionals only)


@dataclass
class RoundData:
    """The outcomes of a round and each respondent's ratings."""

    number: int
    outcomes: list[Outcome]
    ratings: dict[str, dict[str, Rating]]


def _p(email: str, name: str, country: str) -> Panelist:
    return Panelist(email, name, PATIENT, country, None)


def _d(email: str, name: str, country: str, years: int) -> Panelist:
    return Panelist(email, name, DERMATOLOGIST, country, years)


def _r(email: str, name: str, country: str, years: int) -> Panelist:
    return Panelist(email, name, RESEARCHER, country, years)


PANEL = (
    _p("emma.hughes@mail.example", "Emma Hughes", "UK"),
    _p("liam.oconnor@mail.example", "Liam O'Connor", "Ireland"),
    _p("sophie.martin@courriel.example", "Sophie Martin", "France"),
    _p("daan.visser@post.example", "Daan Visser", "Netherlands"),
    _p("chloe.nguyen@mail.example", "Chloe Nguyen", "Australia"),
    _p("jordan.blake@mail.example", "Jordan Blake", "USA"),
    _p("aisha.khan@mail.example", "Aisha Khan", "UK"),
    _p("mia.schneider@post.example", "Mia Schneider", "Germany"),
    _p("noah.tremblay@mail.example", "Noah Tremblay", "Canada"),
    _p("grace.okoye@mail.example", "Grace Okoye", "UK"),
    _p("lucas.ferreira@mail.example", "Lucas Ferreira", "Brazil"),
    _p("hannah.berg@post.example", "Hannah Berg", "Sweden"),
    _p("olivia.reid@mail.example", "Olivia Reid", "Australia"),
    _p("ethan.brooks@mail.example", "Ethan Brooks", "USA"),
    _p("zoe.papadopoulos@mail.example", "Zoe Papadopoulos", "Canada"),
    _p("isla.campbell@mail.example", "Isla Campbell", "UK"),
    _d("r.patel@skin-hospital.example", "Dr Rakesh Patel", "UK", 17),
    _d("c.dubois@chu-derm.example", "Dr Claire Dubois", "France", 22),
    _d("m.jansen@umc-derm.example", "Dr Marieke Jansen", "Netherlands", 12),
    _d("s.oneill@derm-dublin.example", "Dr Siobhan O'Neill", "Ireland", 9),
    _d("k.wagner@hautklinik.example", "Dr Klaus Wagner", "Germany", 28),
    _d("a.rossi@dermatologia.example", "Dr Alessandra Rossi", "Italy", 15),
    _d("j.chen@skinclinic.example", "Dr Jennifer Chen", "USA", 11),
    _d("d.miller@dermgroup.example", "Dr David Miller", "USA", 24),
    _d("p.singh@derm-toronto.example", "Dr Priya Singh", "Canada", 7),
    _d("t.walker@derm-sydney.example", "Dr Thomas Walker", "Australia", 19),
    _d("l.andersson@hud.example", "Dr Lars Andersson", "Sweden", 14),
    _d("f.costa@dermato.example", "Dr Fernanda Costa", "Brazil", 10),
    _d("h.yamamoto@hifuka.example", "Dr Hiroshi Yamamoto", "Japan", 21),
    _d("n.adeyemi@derm-lagos.example", "Dr Ngozi Adeyemi", "Nigeria", 8),
    _d("e.garcia@dermamadrid.example", "Dr Elena García", "Spain", 16),
    _d("b.murphy@skin-hospital.example", "Dr Brian Murphy", "UK", 6),
    _r("a.fischer@uni-research.example", "Dr Anna Fischer", "Germany", 13),
    _r("j.thompson@trials-unit.example", "Prof James Thompson", "UK", 25),
    _r("m.dekker@epi-research.example", "Dr Maarten Dekker", "Netherlands", 9),
    _r("s.lee@cos-methods.example", "Dr Sarah Lee", "USA", 11),
    _r("k.brown@trials-unit.example", "Dr Katherine Brown", "UK", 6),
    _r("r.lopez@uni-research.example", "Dr Raúl López", "Spain", 14),
    _r("y.ito@clinical-epi.example", "Dr Yuki Ito", "Japan", 8),
    _r("c.wilson@cos-methods.example", "Dr Chris Wilson", "Australia", 4),
)
GROUP_OF = {p.email: p.group for p in PANEL}
NEVER_RESPONDED = ("jordan.blake@mail.example", "lucas.ferreira@mail.example")
# panelists who stop responding before each round, drawn at random from these many of a group
DROPOUTS = {
    2: {PATIENT: 3, DERMATOLOGIST: 1, RESEARCHER: 0},
    3: {PATIENT: 2, DERMATOLOGIST: 1, RESEARCHER: 1},
}
EMAIL_VARIANTS = {(2, "grace.okoye@mail.example"): "Grace.Okoye@mail.example "}
BLANKS_PER_ROUND = {1: 3, 2: 2, 3: 1}
# outcomes measured with a laboratory test or device: some patients cannot score them
TECHNICAL = ("O31", "O35", "O36")
P_UNABLE = 0.2

CATALOGUE: tuple[tuple[str, int, tuple[float, float, float], float, str], ...] = (
    # (id, domain, (patients, dermatologists, researchers) mean importance, spread, text)
    ("O01", 0, (5.8, 8.2, 7.5), 1.2, "Number of inflammatory spots (papules and pustules)"),
    ("O02", 0, (5.3, 7.8, 7.1), 1.2, "Number of blackheads and whiteheads (comedones)"),
    ("O03", 0, (5.9, 8.3, 7.8), 1.2, "Overall acne severity as graded by a doctor"),
    ("O04", 0, (8.0, 8.4, 8.1), 1.0, "Number of deep, painful nodules and cysts"),
    ("O05", 0, (7.2, 7.1, 6.9), 1.3, "Acne on the chest, back and shoulders"),
    ("O06", 0, (5.4, 5.9, 5.3), 1.4, "Facial redness assessed by a doctor"),
    ("O07", 1, (8.5, 8.4, 8.3), 0.9, "Depressed (atrophic) acne scars"),
    ("O08", 1, (7.1, 7.0, 6.6), 1.3, "Raised (hypertrophic or keloid) acne scars"),
    ("O09", 1, (8.2, 6.2, 7.0), 1.2, "Dark marks left after spots heal (hyperpigmentation)"),
    ("O10", 1, (7.9, 5.7, 6.4), 1.2, "Red marks left after spots heal (erythema)"),
    ("O11", 1, (6.3, 4.3, 4.8), 1.4, "Skin texture and pore size"),
    ("O12", 2, (7.9, 5.7, 6.6), 1.2, "Pain and tenderness of spots"),
    ("O13", 2, (5.1, 3.6, 4.0), 1.4, "Itch"),
    ("O14", 2, (6.4, 4.1, 4.6), 1.4, "Oily, greasy skin"),
    ("O15", 2, (6.6, 6.7, 6.8), 1.3, "Dryness, peeling and stinging of the skin"),
    ("O16", 3, (8.6, 8.0, 8.4), 0.9, "Acne-specific quality of life"),
    ("O17", 3, (8.4, 5.9, 7.0), 1.2, "Self-esteem and self-confidence"),
    ("O18", 3, (8.0, 5.8, 6.7), 1.1, "Anxiety caused by acne"),
    ("O19", 3, (8.2, 7.0, 7.5), 1.1, "Depression and low mood"),
    ("O20", 3, (8.0, 5.8, 6.8), 1.2, "Social life and relationships"),
    ("O21", 3, (8.4, 6.0, 6.9), 1.0, "Satisfaction with how one's skin looks"),
    ("O22", 3, (6.5, 3.8, 5.0), 1.4, "Time and money spent managing acne"),
    ("O23", 4, (8.2, 8.6, 8.7), 0.9, "Side effects that lead to stopping treatment"),
    (
        "O24",
        4,
        (8.3, 8.4, 8.6),
        0.9,
        "Serious psychiatric side effects, including suicidal thoughts",
    ),
    ("O25", 4, (8.6, 7.7, 8.1), 1.0, "Patient's own rating of overall improvement"),
    ("O26", 4, (8.0, 6.8, 7.1), 1.2, "Satisfaction with treatment"),
    ("O27", 4, (5.2, 7.4, 7.6), 1.2, "Taking treatment as prescribed (adherence)"),
    ("O28", 4, (7.9, 6.1, 6.1), 1.2, "Time until a noticeable improvement"),
    ("O29", 4, (7.0, 7.3, 7.1), 1.3, "Convenience of the treatment regimen"),
    ("O30", 4, (6.4, 7.6, 7.0), 1.3, "Doctor's rating of overall improvement"),
    ("O31", 4, (4.0, 6.0, 5.7), 1.4, "Changes in blood lipids and liver tests"),
    ("O32", 5, (8.4, 8.1, 8.5), 0.9, "Acne coming back after treatment stops (relapse)"),
    ("O33", 5, (8.1, 7.6, 8.1), 1.0, "Length of time acne stays clear (remission)"),
    ("O34", 5, (7.1, 6.4, 7.1), 1.3, "Need for further courses of treatment"),
    ("O35", 5, (2.4, 2.5, 3.0), 1.0, "Sebum production measured with a device (sebumeter)"),
    ("O36", 5, (2.3, 2.6, 2.7), 1.0, "Blood hormone levels (androgens)"),
)
NEW_OUTCOMES = (  # suggested in round-1 comments, rated from round 2
    ("O37", 3, (7.9, 5.6, 6.4), 1.1, "Impact on work, school or studies"),
    ("O38", 3, (6.6, 3.9, 4.6), 1.4, "Need to cover spots with make-up"),
)
REVISIONS: tuple[tuple[int, str, str, float, str], ...] = (  # (round, old id, new id, shift, text)
    (2, "O06", "O06a", 0.9, "Persistent facial redness, as rated by the patient or a doctor"),
    (2, "O11", "O11a", 0.5, "Skin texture (roughness and enlarged pores)"),
)
# Critical for one group, not for another (per-group % rating 7–9 apart by far more than 20
# points in every round they are rated).
DISCORDANT = ("O01", "O02", "O03", "O09", "O12", "O17", "O20", "O27")

COMMENTS: dict[tuple[str, str], tuple[str, str]] = {  # (id, group) -> (rated 7-9, rated lower)
    ("O01", PATIENT): (
        "Fewer spots is the first thing I notice.",
        "Counting spots misses what bothers me: the marks and how I feel.",
    ),
    ("O01", DERMATOLOGIST): (
        "Lesion counts are how we judge response in clinic and in every trial.",
        "Counts alone are noisy; a global grade is more useful.",
    ),
    ("O02", PATIENT): (
        "Blackheads make my skin look dirty even when it is not.",
        "Blackheads do not bother me much compared with the red spots.",
    ),
    ("O02", DERMATOLOGIST): (
        "Comedones respond differently to treatment and must be counted separately.",
        "Comedone counts are hard to do reliably.",
    ),
    ("O03", DERMATOLOGIST): (
        "A validated investigator's global assessment is essential for regulators.",
        "Global grades vary a lot between assessors.",
    ),
    ("O03", PATIENT): (
        "It helps to know how the doctor sees it too.",
        "The doctor sees me for five minutes; I live with it every day.",
    ),
    ("O09", PATIENT): (
        "The dark marks last far longer than the spots themselves, especially on darker skin.",
        "They fade with time for me.",
    ),
    ("O09", DERMATOLOGIST): (
        "Very important in skin of colour; often the main complaint.",
        "It is a consequence of acne rather than a measure of acne activity.",
    ),
    ("O12", PATIENT): (
        "Painful spots stop me sleeping on my side.",
        "Pain is only an issue with the deep ones.",
    ),
    ("O12", DERMATOLOGIST): (
        "Pain matters to patients and is easy to ask about.",
        "Pain tracks nodules, which we already count.",
    ),
    ("O17", PATIENT): (
        "This is the biggest effect acne has had on my life.",
        "My confidence depends on more than my skin.",
    ),
    ("O17", DERMATOLOGIST): (
        "I see how much confidence returns once the skin clears.",
        "Covered by the quality-of-life measure; no need for a separate outcome.",
    ),
    ("O17", RESEARCHER): (
        "Patients in our interviews mentioned it more than any other outcome.",
        "Overlaps with quality of life; hard to measure on its own.",
    ),
    ("O20", PATIENT): (
        "I avoided going out and seeing friends when my acne was bad.",
        "My friends never treated me differently.",
    ),
    ("O20", DERMATOLOGIST): (
        "Social withdrawal is a red flag I ask about.",
        "Important, but part of quality of life.",
    ),
    ("O27", PATIENT): (
        "If you do not take it, it will not work.",
        "That is about the patient, not about whether the treatment works.",
    ),
    ("O27", RESEARCHER): (
        "Without adherence data a trial cannot be interpreted.",
        "A process measure, not an outcome.",
    ),
    ("O16", RESEARCHER): (
        "Several validated instruments exist; we should agree on one.",
        "Generic quality-of-life tools are not sensitive enough in acne.",
    ),
    ("O28", PATIENT): (
        "Waiting months to see a change is the hardest part.",
        "I knew it would take time.",
    ),
    ("O31", DERMATOLOGIST): (
        "Needed for isotretinoin and hormonal treatments.",
        "Only relevant to some treatments; not a core outcome.",
    ),
    ("O35", RESEARCHER): (
        "Useful as a mechanistic endpoint.",
        "A mechanistic measure, not an outcome that matters to patients.",
    ),
    ("O37", PATIENT): (
        "I missed days of school because of my skin.",
        "It never affected my work.",
    ),
    ("O06a", DERMATOLOGIST): (
        "Better now that the patient's view is included.",
        "Still poorly defined.",
    ),
}
R1_COMMENT_COLUMNS = ("O01", "O02", "O03", "O09", "O12", "O16", "O17", "O20", "O27", "O31", "O35")
SUGGESTIONS = {  # round-1 section remarks that led to the new round-2 outcomes
    ("emma.hughes@mail.example", DOMAINS[3]): "Nothing about missing school or work because of "
    "acne; it happened to me several times.",
    ("chloe.nguyen@mail.example", DOMAINS[3]): "Having to wear make-up every day to cover spots "
    "should be an outcome.",
}
SECTION_REMARKS: dict[str, tuple[str, ...]] = {
    DOMAINS[0]: ("Lesion counts should say which areas of the face are counted.",),
    DOMAINS[1]: ("Scars and marks are different things; keep them apart.",),
    DOMAINS[2]: ("Symptoms depend a lot on the treatment used.",),
    DOMAINS[3]: ("Please consider how these are measured in teenagers.",),
    DOMAINS[4]: ("Side effects should be reported in the same way across trials.",),
    DOMAINS[5]: ("Follow-up after stopping is rarely long enough in trials.",),
}
FINAL_TEXTS = (
    "Thank you for including patients in this.",
    "Seeing each group's results side by side was helpful.",
    "Looking forward to the consensus meeting.",
    "Some outcomes overlap; the meeting should merge them.",
)

P_COMMENT = 0.25  # chance of a comment on each commentable outcome (kept if it has one)

# The study's Google Form and the sheet it fills, laid out by data/forms_layout.py.
FORM = forms.Form(
    domains=DOMAINS,
    grid_suffix=" — how important is each outcome?",
    section_comment="Are any outcomes missing from this section?",
    commented=R1_COMMENT_COLUMNS,
    labels={k: END_LABELS.get(k, k) for k in range(1, 10)},
    no_opinion=UNABLE,
    round_start={1: date(2026, 3, 2), 2: date(2026, 4, 13), 3: date(2026, 5, 25)},
    round_days={1: 21, 2: 18, 3: 18},
    email_variants=EMAIL_VARIANTS,
    section_remarks=SECTION_REMARKS,
    planted_remarks=SUGGESTIONS,
    final_texts=FINAL_TEXTS,
    p_section_remark=0.05,
    p_final_remark=0.08,
    creator="data/demo-cos/generate.py",
    created=datetime(2026, 6, 15),
)

Trait = float  # a panelist's general leaning (rates everything a little higher or lower)


# --- the panel's opinions ------------------------------------------------------------------------


def _outcome(row: tuple[str, int, tuple[float, float, float], float, str]) -> Outcome:
    """A catalogue row as an Outcome."""
    sid, domain, mu, sd, text = row
    return Outcome(sid, DOMAINS[domain], text, mu, sd)


def _revision_table() -> dict[tuple[int, str], Outcome]:
    """Reworded outcomes keyed by (round, id of the outcome they replace)."""
    known = {row[0]: _outcome(row) for row in CATALOGUE}
    table: dict[tuple[int, str], Outcome] = {}
    for number, old, new, shift, text in REVISIONS:
        parent = known[old]
        mu = tuple(m + shift for m in parent.mu)
        known[new] = replace(parent, sid=new, text=text, mu=mu, revised_from=old, shift=shift)
        table[(number, old)] = known[new]
    return table


def _clip(value: float) -> int:
    """Round and clip to the 1..9 scale."""
    return int(min(9, max(1, round(value))))


def _fresh(outcome: Outcome, email: str, lean: Trait, rng: np.random.Generator) -> int:
    """A first rating, drawn from the panelist's group opinion and their own leaning."""
    mu = outcome.mu[GROUPS.index(GROUP_OF[email])]
    return _clip(mu + lean + outcome.sd * rng.normal())


def _classify(values: list[Rating]) -> str:
    """'in', 'out' or 'none' by COMET 70/15 over valid ratings (no blanks, no Unable to score)."""
    valid = [v for v in values if v]
    if not valid:
        return "none"
    agree = sum(v >= AGREE for v in valid) / len(valid)
    disagree = sum(v <= DISAGREE for v in valid) / len(valid)
    if agree >= THRESHOLD and disagree < MAX_OPPOSITE:
        return "in"
    if disagree >= THRESHOLD and agree < MAX_OPPOSITE:
        return "out"
    return "none"


def _group_values(rd: RoundData, sid: str, group: str | None) -> list[Rating]:
    """The ratings of one outcome by one group (None: the whole panel)."""
    return [r.get(sid) for e, r in rd.ratings.items() if group in (None, GROUP_OF[e])]


def _outcomes(rd: RoundData) -> dict[str, str]:
    """The study verdict per outcome: 'in' / 'out' when 70/15 holds in every group, else 'none'."""
    out = {}
    for o in rd.outcomes:
        verdicts = {_classify(_group_values(rd, o.sid, g)) for g in GROUPS}
        out[o.sid] = verdicts.pop() if len(verdicts) == 1 else "none"
    return out


def _median(values: list[Rating]) -> float | None:
    valid = [v for v in values if v]
    return float(np.median(valid)) if valid else None


def _step_toward(value: int, target: float | None, chance: float, rng: np.random.Generator) -> int:
    """One step toward ``target`` with probability ``chance`` (drawn whatever the distance)."""
    moves = rng.random() < chance
    if moves and target is not None and abs(target - value) >= 1:
        return value + (1 if target > value else -1)
    return value


def _follow_up(
    outcome: Outcome, prev: RoundData, email: str, lean: Trait, rng: np.random.Generator
) -> int:
    """A later-round rating: the previous answer, nudged by rewording, toward the own group's
    median (the feedback each panelist reads first) and, less often, the whole panel's."""
    source = outcome.revised_from or outcome.sid
    old = prev.ratings.get(email, {}).get(source)
    if not old:  # new outcome, or blank / unable to score last time
        return _fresh(outcome, email, lean, rng)
    value = round(old + outcome.shift + (rng.normal(0, 0.5) if outcome.shift else 0.0))
    if not outcome.shift and rng.random() < P_DRIFT:
        value += int(rng.choice((-1, 1)))
    own = _median(_group_values(prev, source, GROUP_OF[email]))
    value = _step_toward(value, None if own is None else own + outcome.shift, P_OWN, rng)
    panel = _median(_group_values(prev, source, None))
    value = _step_toward(value, None if panel is None else panel + outcome.shift, P_PANEL, rng)
    return _clip(value)


def _next_outcomes(
    prev: RoundData, number: int, revisions: dict[tuple[int, str], Outcome]
) -> list[Outcome]:
    """Outcomes without consensus in every group go forward, two reworded; two join in round 2."""
    verdict = _outcomes(prev)
    kept = [
        revisions.get((number, o.sid)) or replace(o, revised_from=None, shift=0.0)
        for o in prev.outcomes
        if verdict[o.sid] == "none"
    ]
    if number == 2:
        kept += [_outcome(row) for row in NEW_OUTCOMES]
    return sorted(kept, key=lambda o: (DOMAINS.index(o.domain), o.sid))


def _respondents(rng: np.random.Generator, previous: list[str], number: int) -> list[str]:
    """Who answers a round: round 1 everyone but the never-responders; then some drop out."""
    if number == 1:
        return [p.email for p in PANEL if p.email not in NEVER_RESPONDED]
    gone: list[str] = []
    for group, count in DROPOUTS.get(number, {}).items():
        pool = [e for e in previous if GROUP_OF[e] == group]
        gone += [pool[int(k)] for k in rng.choice(len(pool), count, replace=False)]
    return [e for e in previous if e not in gone]


def _apply_events(rd: RoundData, rng: np.random.Generator) -> None:
    """'Unable to score' from some patients on technical outcomes, and a few blank cells."""
    for email, ratings in rd.ratings.items():
        for sid in TECHNICAL:
            if GROUP_OF[email] == PATIENT and sid in ratings and rng.random() < P_UNABLE:
                ratings[sid] = UTS
    forms.leave_blank(rng, rd.ratings, BLANKS_PER_ROUND[rd.number])


def _simulate(rng: np.random.Generator) -> list[RoundData]:
    """Run the three rounds: who rates what, and how."""
    leans = {p.email: float(rng.normal(0, 0.5)) for p in PANEL}
    revisions = _revision_table()
    first = [_outcome(row) for row in CATALOGUE]
    who = _respondents(rng, [], 1)
    ratings = {e: {o.sid: _fresh(o, e, leans[e], rng) for o in first} for e in who}
    rounds = [RoundData(1, first, ratings)]
    _apply_events(rounds[0], rng)
    for number in (2, 3):
        prev = rounds[-1]
        outcomes = _next_outcomes(prev, number, revisions)
        who = _respondents(rng, list(prev.ratings), number)
        ratings = {e: {o.sid: _follow_up(o, prev, e, leans[e], rng) for o in outcomes} for e in who}
        rounds.append(RoundData(number, outcomes, ratings))
        _apply_events(rounds[-1], rng)
    return rounds


# --- form submissions ----------------------------------------------------------------------------


def _comment_for(sid: str, email: str, rating: Rating) -> str | None:
    """A short comment in the panelist's group's voice matching the rating, if there is one."""
    pair = COMMENTS.get((sid, GROUP_OF[email]))
    if pair is None or not rating:
        return None
    return pair[0] if rating >= AGREE else pair[1]


def _add_free_text(
    rd: RoundData, rng: np.random.Generator, resp: forms.Response, email: str, used: set[str]
) -> None:
    """Fill a respondent's optional comments, section remarks and final remark (mostly blank)."""
    commentable = R1_COMMENT_COLUMNS if rd.number == 1 else [o.sid for o in rd.outcomes]
    for sid in commentable:
        if rng.random() < P_COMMENT:
            text = forms.unused(_comment_for(sid, email, resp.ratings.get(sid)), used)
            if text:
                resp.comments[sid] = text
    FORM.add_remarks(rng, resp, rd.number, email, used)


def _responses(rng: np.random.Generator, rd: RoundData) -> list[forms.Response]:
    """All submissions of a round in timestamp (sheet) order."""
    out = FORM.submissions(rng, rd.number, rd.ratings, partial(_add_free_text, rd, rng))
    return sorted(out, key=lambda r: r.timestamp)


# --- sheet layout --------------------------------------------------------------------------------

PANEL_HEADER = ["Email Address", "Name", "Stakeholder group", "Country", "Years of experience"]


def _panel_rows() -> list[list[Any]]:
    """The Panel tab: the invited panel (registration answers)."""
    rows: list[list[Any]] = [list(PANEL_HEADER)]
    return rows + [[p.email, p.name, p.group, p.country, p.years] for p in PANEL]


def generate(seed: int = SEED) -> dict[str, list[list[Any]]]:
    """The workbook's tabs as {tab name: rows (header first)}, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    rounds = _simulate(rng)
    sheets = [(rd.number, rd.outcomes, _responses(rng, rd)) for rd in rounds]
    return FORM.tabs(sheets, _panel_rows())


def build_workbook(path: str | Path) -> None:
    """Generate the study with the default seed and write it to ``path``."""
    FORM.write(generate(), Path(path))


# --- reading the tabs back (summary) -------------------------------------------------------------


def group_agreement(tabs: forms.Tabs, number: int, sid: str) -> dict[str, float]:
    """Group -> % of its valid ratings of ``sid`` in round ``number`` that are 7–9."""
    group = {forms.identity(r[0]): r[2] for r in tabs["Panel"][1:]}
    ratings = FORM.latest_ratings(tabs, number)
    out = {}
    for g in GROUPS:
        valid = [r[sid] for e, r in ratings.items() if group[e] == g and r.get(sid)]
        out[g] = 100 * sum(v >= AGREE for v in valid) / len(valid) if valid else float("nan")
    return out


def summarise(tabs: forms.Tabs) -> str:
    """Respondents per group and round, verdicts per round, and the discordant outcomes."""
    group = {forms.identity(r[0]): r[2] for r in tabs["Panel"][1:]}
    lines = []
    for number in (1, 2, 3):
        ratings = FORM.latest_ratings(tabs, number)
        counts = ", ".join(f"{g} {sum(group[e] == g for e in ratings)}" for g in GROUPS)
        sids = list(next(iter(ratings.values())))
        verdicts = {
            s: {_classify([r[s] for e, r in ratings.items() if group[e] == g]) for g in GROUPS}
            for s in sids
        }
        settled = [s for s, v in verdicts.items() if len(v) == 1 and v != {"none"}]
        lines.append(f"Round {number}: {len(sids)} outcomes; respondents {counts}")
        lines.append(f"  settled in every group: {' '.join(settled) or '-'}")
        for sid in DISCORDANT:
            if sid in sids:
                shown = ", ".join(
                    f"{g} {v:.0f}%" for g, v in group_agreement(tabs, number, sid).items()
                )
                lines.append(f"  {sid} % rating 7–9: {shown}")
    return "\n".join(lines)


def main() -> None:
    """Write the workbook next to this script and print a summary."""
    tabs = generate()
    FORM.write(tabs, OUT_PATH)
    print(f"Wrote {OUT_PATH}")
    print(summarise(tabs))


if __name__ == "__main__":
    main()
