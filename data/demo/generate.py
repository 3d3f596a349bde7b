"""Seeded generator of a synthetic three-round Delphi study on low-dose isotretinoin for photoaging.

Run ``python data/demo/generate.py`` to (re)write ``isotretinoin_delphi.xlsx`` next to this file,
laid out like the Google Sheet that Google Forms fills: three round tabs, Statements and Panel.
The layout itself (submission times, columns, cells, the .xlsx, reading it back) is
``data/forms_layout.py``, shared with ``data/demo-cos/generate.py``; this file holds the study's
content (statements, panel, comments) and its simulation (ratings, dropout, the odd cells).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.append(str(Path(__file__).resolve().parent.parent))  # data/, for forms_layout
import forms_layout as forms  # data/ is not a package

SEED = 20261126
OUT_PATH = Path(__file__).resolve().with_name("isotretinoin_delphi.xlsx")
LABELS = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neither agree nor disagree",
    4: "Agree",
    5: "Strongly agree",
}
UNABLE = "Unable to judge"
UTJ = forms.NO_OPINION  # internal code for "Unable to judge"; None is an unanswered (blank) cell
THRESHOLD = 0.75
P_MOVE = 0.75  # chance a panelist moves one step toward the previous round's group median
# (a quarter of that when the median is neutral: a split panel persuades few)
P_DRIFT = 0.05  # chance a panelist's carried rating drifts one step at random

DOMAINS = (
    "Patient selection and indications",
    "Dosing",
    "Duration and maintenance",
    "Monitoring",
    "Safety and contraindications",
    "Combination with procedures",
)

Rating = forms.Rating  # 1..5, UTJ (0) or None (blank)


@dataclass(frozen=True)
class Statement:
    """One statement as rated in one round, with its latent panel opinion."""

    sid: str
    domain: str
    text: str
    mu: float  # latent mean opinion on the 1..5 scale
    sd: float  # spread of opinion (controversy)
    polarity: int = 0  # +1 permissive (liberal prescribers agree more), -1 conservative
    revised_from: str | None = None
    shift: float = 0.0  # how much a revised wording moves opinion


@dataclass(frozen=True)
class Panelist:
    """An invited panel member."""

    email: str
    name: str
    country: str
    setting: str
    years: int
    volume: str


@dataclass
class RoundData:
    """The statements of a round and each respondent's real (final) ratings."""

    number: int
    statements: list[Statement]
    ratings: dict[str, dict[str, Rating]]


LOW, MID, HIGH = "<10 patients/year", "10–50 patients/year", ">50 patients/year"
PANEL = (
    Panelist("r.almeida@derm.example", "Renata Almeida", "Brazil", "Private practice", 18, HIGH),
    Panelist("ana.silva@clinic.example", "Ana Silva", "Brazil", "Mixed", 12, MID),
    Panelist("m.turner@skinhealth.example", "Michael Turner", "USA", "Academic", 22, MID),
    Panelist("jwalsh@dermgroup.example", "Jennifer Walsh", "USA", "Private practice", 9, HIGH),
    Panelist("giulia.romano@dermamilano.example", "Giulia Romano", "Italy", "Academic", 15, MID),
    Panelist("m.bianchi@dermaroma.example", "Marco Bianchi", "Italy", "Private practice", 27, LOW),
    Panelist("priya.raman@skinclinic.example", "Priya Raman", "India", "Hospital", 11, HIGH),
    Panelist("arjun.mehta@derm.example", "Arjun Mehta", "India", "Mixed", 7, MID),
    Panelist("s.whitfield@nhs-derm.example", "Sarah Whitfield", "UK", "Hospital", 20, LOW),
    Panelist("j.okafor@londonskin.example", "James Okafor", "UK", "Mixed", 14, MID),
    Panelist(
        "lucia.fernandez@dermamadrid.example",
        "Lucía Fernández",
        "Spain",
        "Private practice",
        16,
        HIGH,
    ),
    Panelist(
        "jiwoo.park@seoulderm.example", "Ji-woo Park", "South Korea", "Private practice", 10, HIGH
    ),
    Panelist("mj.kim@snuh-derm.example", "Min-jun Kim", "South Korea", "Academic", 19, MID),
    Panelist("n.elsayed@cairoderm.example", "Nour El-Sayed", "Egypt", "Hospital", 8, MID),
    Panelist("c.mendoza@dermamx.example", "Carlos Mendoza", "Mexico", "Mixed", 24, LOW),
)
VOLUME_LIBERAL = {LOW: -0.4, MID: 0.0, HIGH: 0.4}
# The protocol's eligibility criteria besides years in practice (study.toml [[eligibility]]):
# every panelist meets them but one, who left "COI disclosed" blank.  Written after the other
# Panel columns and drawn from no random generator, so every other cell stays as it was.
CRITERIA_COLUMNS = (
    "Board certified",
    "Low-dose isotretinoin experience",
    "COI disclosed",
    "Can attend every round",
)
COI_NOT_DISCLOSED = "n.elsayed@cairoderm.example"
DOUBLE_SUBMITTER = "giulia.romano@dermamilano.example"  # submits round 1 twice
DROPOUT = "j.okafor@londonskin.example"  # no round-3 submission
EMAIL_VARIANTS = {(2, "ana.silva@clinic.example"): " Ana.Silva@clinic.example "}
BLANKS_PER_ROUND = {1: 3, 2: 2, 3: 2}
UNABLE_EVENTS = (  # (round, email, statement id): answered "Unable to judge"
    (1, "m.bianchi@dermaroma.example", "S40"),
    (1, "m.bianchi@dermaroma.example", "S36"),
    (1, "c.mendoza@dermamx.example", "S35"),
    (1, "s.whitfield@nhs-derm.example", "S33"),
    (2, "c.mendoza@dermamx.example", "S35a"),
    (2, "s.whitfield@nhs-derm.example", "S42"),
    (3, "c.mendoza@dermamx.example", "S35a"),
)

CATALOGUE: tuple[tuple[str, int, float, float, int, str], ...] = (
    (
        "S01",
        0,
        4.5,
        0.6,
        0,
        "Low-dose isotretinoin is a reasonable off-label option for patients "
        "with mild to moderate photoaging (Glogau II–III) who have not responded adequately to "
        "topical retinoids.",
    ),
    (
        "S02",
        0,
        4.4,
        0.7,
        0,
        "Patients with photoaging and prominent sebaceous hyperplasia or "
        "enlarged pores are the subgroup most likely to benefit from low-dose isotretinoin.",
    ),
    (
        "S03",
        0,
        1.6,
        0.6,
        1,
        "Low-dose isotretinoin should be offered as first-line monotherapy for "
        "photoaging, before topical retinoids have been tried.",
    ),
    (
        "S04",
        0,
        3.3,
        1.0,
        1,
        "Patients with photoaging and coexisting papulopustular rosacea are "
        "suitable candidates for low-dose isotretinoin.",
    ),
    (
        "S05",
        0,
        3.0,
        1.0,
        1,
        "Low-dose isotretinoin is appropriate for patients older than 65 years "
        "with photoaging, provided baseline lipids and liver enzymes are normal.",
    ),
    (
        "S06",
        0,
        4.7,
        0.5,
        0,
        "Written informed consent documenting the off-label use of "
        "isotretinoin for photoaging should be obtained before starting treatment.",
    ),
    (
        "S07",
        0,
        2.8,
        1.0,
        1,
        "Fine wrinkles without other signs of photoaging are a sufficient "
        "indication on their own to start low-dose isotretinoin.",
    ),
    (
        "S08",
        1,
        4.1,
        0.7,
        0,
        "For photoaging, 0.1–0.25 mg/kg/day is sufficient to obtain a "
        "clinically meaningful benefit.",
    ),
    (
        "S09",
        1,
        3.8,
        1.0,
        1,
        "A fixed dose of 10 mg three times weekly is an acceptable regimen for photoaging.",
    ),
    (
        "S10",
        1,
        2.6,
        1.0,
        1,
        "A fixed dose of 20 mg daily is preferable to weight-based dosing for photoaging.",
    ),
    (
        "S11",
        1,
        3.2,
        1.0,
        0,
        "Micro-dosing (5 mg/day or less, or 10 mg once or twice weekly) "
        "produces a clinically meaningful improvement in photoaging.",
    ),
    (
        "S12",
        1,
        4.6,
        0.6,
        0,
        "Isotretinoin for photoaging should be taken with a fat-containing "
        "meal to ensure adequate absorption.",
    ),
    (
        "S13",
        1,
        1.5,
        0.6,
        0,
        "The cumulative dose target of 120–150 mg/kg used in acne is relevant "
        "when treating photoaging.",
    ),
    (
        "S14",
        1,
        4.4,
        0.7,
        0,
        "Doses above 0.5 mg/kg/day offer no additional benefit for photoaging "
        "and increase the frequency of adverse effects.",
    ),
    (
        "S15",
        2,
        4.4,
        0.7,
        0,
        "A treatment course of at least 12 weeks is needed before response in "
        "photoaging can be assessed.",
    ),
    (
        "S16",
        2,
        3.8,
        0.9,
        0,
        "A treatment course of 6 months is adequate for most patients with photoaging.",
    ),
    (
        "S17",
        2,
        3.4,
        1.0,
        1,
        "After the initial course, maintenance with 10 mg once or twice weekly "
        "can be used to sustain improvement.",
    ),
    (
        "S18",
        2,
        2.8,
        1.1,
        1,
        "Continuous treatment for longer than 12 months is justified in "
        "patients with photoaging who continue to improve.",
    ),
    ("S19", 2, 4.3, 0.7, 0, "Low-dose isotretinoin can be stopped abruptly without tapering."),
    (
        "S20",
        2,
        4.9,
        0.4,
        0,
        "Daily broad-spectrum sunscreen (SPF 30 or higher) must be continued "
        "during and after treatment.",
    ),
    (
        "S21",
        3,
        4.7,
        0.5,
        0,
        "Fasting lipid profile and liver enzymes (ALT, AST) should be measured "
        "at baseline in all patients.",
    ),
    (
        "S22",
        3,
        3.1,
        1.0,
        1,
        "In patients with normal baseline results, a single repeat of lipids "
        "and liver enzymes after 8 weeks is sufficient at doses of 20 mg/day or less.",
    ),
    (
        "S23",
        3,
        4.4,
        0.6,
        0,
        "Treatment should be interrupted if fasting triglycerides exceed 500 mg/dL (5.6 mmol/L).",
    ),
    (
        "S24",
        3,
        4.3,
        0.7,
        0,
        "A rise in ALT above three times the upper limit of normal should lead "
        "to discontinuation of treatment.",
    ),
    (
        "S25",
        3,
        4.7,
        0.6,
        -1,
        "Women of childbearing potential must follow the full pregnancy "
        "prevention programme (negative test before, monthly during and 1 month after treatment) "
        "regardless of dose.",
    ),
    (
        "S26",
        3,
        1.8,
        0.9,
        1,
        "Monthly pregnancy tests can be omitted in women using a long-acting "
        "reversible contraceptive (intrauterine device or implant).",
    ),
    (
        "S27",
        3,
        3.8,
        0.9,
        1,
        "Routine full blood count monitoring is not necessary in healthy "
        "patients receiving low-dose isotretinoin.",
    ),
    (
        "S28",
        4,
        4.9,
        0.3,
        0,
        "Pregnancy and breastfeeding are absolute contraindications to low-dose isotretinoin.",
    ),
    (
        "S29",
        4,
        2.9,
        1.1,
        -1,
        "Low-dose isotretinoin should not be prescribed to patients with a "
        "current or past history of depression.",
    ),
    (
        "S30",
        4,
        4.5,
        0.6,
        0,
        "Mucocutaneous dryness at low doses is usually mild and manageable "
        "with emollients and lip balm.",
    ),
    (
        "S31",
        4,
        4.7,
        0.5,
        0,
        "Concomitant tetracyclines must be avoided because of the risk of "
        "idiopathic intracranial hypertension.",
    ),
    (
        "S32",
        4,
        4.0,
        0.8,
        0,
        "Contact-lens wearers should be warned about dry eye before starting "
        "low-dose isotretinoin.",
    ),
    (
        "S33",
        4,
        2.6,
        1.0,
        1,
        "Low-dose isotretinoin is safe in patients with hypertriglyceridaemia "
        "that is well controlled on statin therapy.",
    ),
    (
        "S34",
        4,
        4.6,
        0.6,
        0,
        "Patients should not donate blood during treatment and for at least "
        "1 month after the last dose.",
    ),
    (
        "S35",
        5,
        2.7,
        1.0,
        1,
        "Fractional ablative laser resurfacing can be performed during "
        "low-dose isotretinoin treatment without an increased risk of scarring.",
    ),
    (
        "S36",
        5,
        3.8,
        0.9,
        1,
        "Superficial chemical peels (e.g. glycolic acid 30–50%, salicylic acid "
        "20–30%) can be safely performed during low-dose isotretinoin treatment.",
    ),
    (
        "S37",
        5,
        3.3,
        1.0,
        -1,
        "Medium-depth peels (e.g. TCA 35%) should be postponed until at least "
        "6 months after stopping isotretinoin.",
    ),
    (
        "S38",
        5,
        4.4,
        0.7,
        1,
        "Botulinum toxin and hyaluronic acid filler injections can be "
        "performed during low-dose isotretinoin treatment.",
    ),
    (
        "S39",
        5,
        4.2,
        0.8,
        -1,
        "Mechanical dermabrasion should be avoided during treatment and for "
        "6 months after stopping isotretinoin.",
    ),
    (
        "S40",
        5,
        2.1,
        0.9,
        1,
        "Starting low-dose isotretinoin 1 month before fractional laser "
        "treatment improves the final cosmetic outcome.",
    ),
)
NEW_STATEMENTS: tuple[tuple[str, int, float, float, int, str], ...] = (  # enter in round 2
    (
        "S41",
        4,
        4.2,
        0.7,
        0,
        "Mood changes should be asked about at every follow-up visit, using a "
        "brief validated screening tool (e.g. PHQ-2) where available.",
    ),
    (
        "S42",
        5,
        3.9,
        0.8,
        1,
        "Laser hair removal can be continued during low-dose isotretinoin treatment.",
    ),
)
REVISIONS: tuple[tuple[int, str, str, float, str], ...] = (  # (round, old id, new id, shift, text)
    (
        2,
        "S07",
        "S07a",
        0.5,
        "Fine wrinkles without other signs of photoaging are a sufficient "
        "indication for low-dose isotretinoin in patients who do not tolerate topical retinoids.",
    ),
    (
        2,
        "S10",
        "S10a",
        0.9,
        "A fixed dose of 10 mg daily is an acceptable alternative to "
        "weight-based dosing for photoaging.",
    ),
    (
        2,
        "S22",
        "S22a",
        0.7,
        "In patients with normal baseline results, lipids and liver enzymes "
        "can be repeated at 8 weeks and then every 3 months at doses of 20 mg/day or less.",
    ),
    (
        2,
        "S29",
        "S29a",
        1.0,
        "Low-dose isotretinoin should not be prescribed to patients with "
        "current depression or a history of suicidal ideation.",
    ),
    (
        2,
        "S35",
        "S35a",
        0.6,
        "Fractional non-ablative laser resurfacing can be performed during "
        "low-dose isotretinoin treatment without an increased risk of scarring.",
    ),
    (
        3,
        "S07a",
        "S07b",
        0.5,
        "Low-dose isotretinoin can be considered for fine wrinkles in "
        "patients who do not tolerate topical retinoids, after discussing the limited evidence.",
    ),
    (
        3,
        "S37",
        "S37a",
        0.8,
        "Medium-depth peels (e.g. TCA 35%) should be postponed until at least "
        "3 months after stopping low-dose isotretinoin.",
    ),
)

COMMENTS: dict[str, tuple[str, str]] = {  # id -> (comment when agreeing, when not)
    "S04": (
        "Works well in my practice for papulopustular rosacea with photodamage; I start at "
        "10 mg/day.",
        "Flushing can worsen at first; I would only use it with close follow-up.",
    ),
    "S05": (
        "Age alone should not exclude anyone if comorbidities and medications are reviewed.",
        "Polypharmacy and xerosis in this age group make me very cautious.",
    ),
    "S07": (
        "Fine wrinkling responds well, especially when sebum production is also high.",
        "Wrinkles alone are better served by topical retinoids and procedures first.",
    ),
    "S09": (
        "Intermittent dosing improves tolerability and adherence in my patients.",
        "Exposure is uneven with alternate-day dosing; I prefer 10 mg daily.",
    ),
    "S10": (
        "Fixed dosing is simpler and most patients end up on 10–20 mg anyway.",
        "20 mg daily is too much for a rejuvenation indication.",
    ),
    "S11": (
        "Even 5 mg/day reduces oiliness and improves texture after 3–4 months.",
        "The evidence for benefit below 10 mg/day is weak.",
    ),
    "S16": (
        "Six months is the usual course in my clinic.",
        "Many patients need 9–12 months before texture changes consolidate.",
    ),
    "S17": (
        "Weekly maintenance has kept results stable for over a year in my patients.",
        "No data support maintenance; I prefer to stop and re-treat if needed.",
    ),
    "S18": (
        "If it is tolerated and labs are normal, I see no reason to stop an effective treatment.",
        "Long-term use is hard to justify for a cosmetic indication.",
    ),
    "S22": (
        "At 10–20 mg/day I rarely see meaningful laboratory changes after the first check.",
        "I still repeat lipids every 3 months, especially in patients over 40.",
    ),
    "S26": (
        "With an IUD or implant the risk is very low and monthly tests add little.",
        "Local regulations do not allow this, whatever the dose.",
    ),
    "S27": (
        "I stopped routine blood counts years ago without any problem.",
        "A baseline count costs little; I still do it.",
    ),
    "S29": (
        "The indication is cosmetic, so I avoid it in anyone with a psychiatric history.",
        "A stable, treated history of depression is not an absolute contraindication.",
    ),
    "S33": (
        "It can be done with close monitoring and the cardiologist informed.",
        "Pre-existing hypertriglyceridaemia is a reason not to use it for a cosmetic indication.",
    ),
    "S35": (
        "I have performed fractional CO2 in patients on 10 mg/day without scarring.",
        "Medico-legally I still wait 6 months after stopping before ablative resurfacing.",
    ),
    "S36": (
        "Superficial peels are fine; I shorten the contact time.",
        "The skin is more reactive on isotretinoin; I would lower the concentration.",
    ),
    "S37": (
        "Six months remains my standard before medium-depth peels.",
        "Recent data suggest 1–3 months is enough after low doses.",
    ),
    "S40": (
        "Pre-treatment seems to shorten downtime after laser in my experience.",
        "I am not aware of any published evidence for this.",
    ),
    "S41": (
        "A short mood check such as the PHQ-2 takes a minute and is reassuring.",
        "Asking at each visit is enough; a formal tool is not needed.",
    ),
    "S42": (
        "Laser hair removal has not caused any problems in my patients on low doses.",
        "I pause laser hair removal during treatment because of skin fragility.",
    ),
    "S07a": (
        "Reasonable when retinoids cause irritation and the patient wants a systemic option.",
        "Still a weak indication; I would try retinaldehyde or a lower-strength retinoid first.",
    ),
    "S07b": (
        "Framing it as an option after discussion matches what I do.",
        "Even with counselling, wrinkles alone do not justify systemic treatment.",
    ),
    "S10a": (
        "10 mg daily is what I use for almost everyone.",
        "I prefer to adjust the dose to body weight, particularly in small patients.",
    ),
    "S22a": (
        "Three-monthly checks are a sensible compromise at these doses.",
        "At 10 mg/day, testing every 3 months is more than is needed.",
    ),
    "S29a": (
        "This wording reflects my practice much better.",
        "I would not exclude a patient with remote suicidal ideation who is now well and "
        "followed by psychiatry.",
    ),
    "S35a": (
        "Non-ablative fractional lasers have been low risk in my experience.",
        "I would still wait until the course is finished.",
    ),
    "S37a": (
        "Three months is enough after low doses in my experience.",
        "I prefer to keep the 6-month interval for any medium-depth peel.",
    ),
}
R1_COMMENT_COLUMNS = (
    "S04",
    "S05",
    "S07",
    "S10",
    "S11",
    "S16",
    "S18",
    "S22",
    "S26",
    "S29",
    "S33",
    "S35",
    "S37",
)
SECTION_REMARKS: dict[str, tuple[str, ...]] = {
    DOMAINS[0]: (
        "Patient expectations should be discussed before any of this.",
        "Skin type and sebum level matter more than age.",
    ),
    DOMAINS[1]: ("It would help to define 'low dose' and 'micro-dose' explicitly.",),
    DOMAINS[2]: ("Duration depends a lot on the endpoint chosen.",),
    DOMAINS[3]: ("Monitoring should follow local regulations in any case.",),
    DOMAINS[4]: ("Dry eye and mood are the issues my patients ask about most.",),
    DOMAINS[5]: ("Most of my procedures are done after treatment, so I lack experience here.",),
}
SUGGESTIONS = {  # round-1 section comments that led to the new round-2 statements
    ("n.elsayed@cairoderm.example", DOMAINS[4]): "Consider adding a statement on screening for "
    "mood changes at each visit, not only a history of depression.",
    ("jiwoo.park@seoulderm.example", DOMAINS[5]): "Nothing here on laser hair removal; many of "
    "our patients ask whether they can continue it.",
}
FINAL_TEXTS = (
    "Thank you for organising this panel.",
    "Looking forward to seeing the results.",
    "Happy to contribute to a publication.",
    "Some statements would be easier to rate if 'low dose' were defined once.",
)

P_COMMENT = {1: 0.15, 2: 0.1, 3: 0.1}  # chance of a comment on a statement that has some

# The study's Google Form and the sheet it fills, laid out by data/forms_layout.py.
FORM = forms.Form(
    domains=DOMAINS,
    grid_suffix=" — rate your agreement",
    section_comment="Any other comments on this section?",
    commented=R1_COMMENT_COLUMNS,
    labels=LABELS,
    no_opinion=UNABLE,
    round_start={1: date(2026, 9, 7), 2: date(2026, 10, 5), 3: date(2026, 11, 2)},
    round_days={1: 19, 2: 17, 3: 15},
    email_variants=EMAIL_VARIANTS,
    section_remarks=SECTION_REMARKS,
    planted_remarks=SUGGESTIONS,
    final_texts=FINAL_TEXTS,
    p_section_remark=0.08,
    p_final_remark=0.1,
    creator="data/demo/generate.py",
    created=datetime(2026, 11, 26),
)

Trait = tuple[float, float]  # (general leaning, liberalness toward permissive statements)


# --- the panel's opinions ------------------------------------------------------------------------


def _statement(row: tuple[str, int, float, float, int, str]) -> Statement:
    """A catalogue row as a Statement."""
    sid, domain, mu, sd, polarity, text = row
    return Statement(sid, DOMAINS[domain], text, mu, sd, polarity)


def _revision_table() -> dict[tuple[int, str], Statement]:
    """Revised statements keyed by (round, id of the statement they replace)."""
    known = {row[0]: _statement(row) for row in CATALOGUE}
    table: dict[tuple[int, str], Statement] = {}
    for number, old, new, shift, text in REVISIONS:
        parent = known[old]
        known[new] = replace(
            parent, sid=new, text=text, mu=parent.mu + shift, revised_from=old, shift=shift
        )
        table[(number, old)] = known[new]
    return table


def _draw_traits(rng: np.random.Generator) -> dict[str, Trait]:
    """Each panelist's general leaning and liberalness (high prescribers are more liberal)."""
    return {
        p.email: (float(rng.normal(0, 0.3)), VOLUME_LIBERAL[p.volume] + float(rng.normal(0, 0.2)))
        for p in PANEL
    }


def _clip(value: float) -> int:
    """Round and clip to the 1..5 scale."""
    return int(min(5, max(1, round(value))))


def _fresh(stmt: Statement, trait: Trait, rng: np.random.Generator) -> int:
    """A first rating of a statement, drawn from its latent opinion and the panelist's traits."""
    lean, liberal = trait
    return _clip(stmt.mu + lean + stmt.polarity * liberal + stmt.sd * rng.normal())


def _classify(values: list[Rating]) -> str:
    """'in', 'out' or 'none' by the 75% rule over valid ratings (no blanks, no Unable to judge)."""
    valid = [v for v in values if v]
    if not valid:
        return "none"
    if sum(v >= 4 for v in valid) / len(valid) >= THRESHOLD:
        return "in"
    if sum(v <= 2 for v in valid) / len(valid) >= THRESHOLD:
        return "out"
    return "none"


def _outcomes(rd: RoundData) -> dict[str, str]:
    """Consensus outcome of every statement of a round."""
    return {s.sid: _classify([r.get(s.sid) for r in rd.ratings.values()]) for s in rd.statements}


def _follow_up(
    stmt: Statement, prev: RoundData, email: str, trait: Trait, rng: np.random.Generator
) -> int:
    """A later-round rating: the previous answer, nudged by rewording and toward the median."""
    source = stmt.revised_from or stmt.sid
    old = prev.ratings.get(email, {}).get(source)
    if not old:  # new statement, or blank / unable to judge last time
        return _fresh(stmt, trait, rng)
    valid = [v for v in (r.get(source) for r in prev.ratings.values()) if v]
    target = float(np.median(valid)) + stmt.shift
    value = float(old) + stmt.shift + (float(rng.normal(0, 0.4)) if stmt.shift else 0.0)
    if not stmt.shift and rng.random() < P_DRIFT:
        value += float(rng.choice((-1, 1)))
    value = round(value)
    pull = P_MOVE if abs(target - 3) >= 0.5 else P_MOVE / 4
    if rng.random() < pull and abs(target - value) >= 1:
        value += 1 if target > value else -1
    return _clip(value)


def _next_statements(
    prev: RoundData, number: int, revisions: dict[tuple[int, str], Statement]
) -> list[Statement]:
    """Statements without consensus go forward, some reworded; new ones join in round 2."""
    outcome = _outcomes(prev)
    stmts = [
        revisions.get((number, s.sid)) or replace(s, revised_from=None, shift=0.0)
        for s in prev.statements
        if outcome[s.sid] == "none"
    ]
    if number == 2:
        stmts += [_statement(row) for row in NEW_STATEMENTS]
    return sorted(stmts, key=lambda s: (DOMAINS.index(s.domain), s.sid))


def _apply_events(rd: RoundData, rng: np.random.Generator) -> None:
    """Put in this round's 'Unable to judge' answers and a few unanswered (blank) cells."""
    for number, email, sid in UNABLE_EVENTS:
        if number == rd.number and sid in rd.ratings.get(email, {}):
            rd.ratings[email][sid] = UTJ
    forms.leave_blank(rng, rd.ratings, BLANKS_PER_ROUND[rd.number])


def _simulate(rng: np.random.Generator, traits: dict[str, Trait]) -> list[RoundData]:
    """Run the three rounds: who rates what, and how."""
    revisions = _revision_table()
    first = [_statement(row) for row in CATALOGUE]
    ratings = {p.email: {s.sid: _fresh(s, traits[p.email], rng) for s in first} for p in PANEL}
    rounds = [RoundData(1, first, ratings)]
    _apply_events(rounds[0], rng)
    for number in (2, 3):
        prev = rounds[-1]
        stmts = _next_statements(prev, number, revisions)
        emails = [p.email for p in PANEL if number < 3 or p.email != DROPOUT]
        ratings = {
            e: {s.sid: _follow_up(s, prev, e, traits[e], rng) for s in stmts} for e in emails
        }
        rounds.append(RoundData(number, stmts, ratings))
        _apply_events(rounds[-1], rng)
    return rounds


# --- form submissions ----------------------------------------------------------------------------


def _comment_for(sid: str, rating: Rating) -> str | None:
    """A short comment matching the rating's direction, if the statement has any."""
    if sid not in COMMENTS or not rating:
        return None
    agree, other = COMMENTS[sid]
    return agree if rating >= 4 else other


def _add_free_text(
    rd: RoundData, rng: np.random.Generator, resp: forms.Response, email: str, used: set[str]
) -> None:
    """Fill a respondent's optional comments, section remarks and final remark (mostly blank)."""
    commentable = R1_COMMENT_COLUMNS if rd.number == 1 else [s.sid for s in rd.statements]
    for sid in commentable:
        if sid in COMMENTS and rng.random() < P_COMMENT[rd.number]:
            text = forms.unused(_comment_for(sid, resp.ratings.get(sid)), used)
            if text:
                resp.comments[sid] = text
    FORM.add_remarks(rng, resp, rd.number, email, used)


def _early_duplicate(rng: np.random.Generator, responses: list[forms.Response]) -> forms.Response:
    """The double submitter's first, superseded round-1 row; their real row moves later."""
    real = next(r for r in responses if r.email == DOUBLE_SUBMITTER)
    ratings = dict(real.ratings)
    answered = sorted(k for k, v in ratings.items() if v)
    for k in rng.choice(len(answered), 6, replace=False):
        value, step = ratings[answered[int(k)]] or 3, int(rng.choice((-1, 1)))
        ratings[answered[int(k)]] = value + step if 1 <= value + step <= 5 else value - step
    early = forms.Response(real.email, real.timestamp, ratings)
    real.timestamp += timedelta(seconds=int(rng.integers(26 * 3600, 70 * 3600)))
    return early


def _responses(rng: np.random.Generator, rd: RoundData) -> list[forms.Response]:
    """All submissions of a round in timestamp (sheet) order, round 1's double one included."""
    out = FORM.submissions(rng, rd.number, rd.ratings, partial(_add_free_text, rd, rng))
    if rd.number == 1:
        out.append(_early_duplicate(rng, out))
    return sorted(out, key=lambda r: r.timestamp)


# --- sheet layout --------------------------------------------------------------------------------


def _panel_rows() -> list[list[Any]]:
    """The Panel tab: the invited panel, then the eligibility criteria they meet."""
    rows: list[list[Any]] = [
        [
            "Email Address",
            "Name",
            "Country",
            "Practice setting",
            "Years in practice",
            "Isotretinoin prescribing volume",
            *CRITERIA_COLUMNS,
        ]
    ]
    return rows + [
        [p.email, p.name, p.country, p.setting, p.years, p.volume, *_criteria(p)] for p in PANEL
    ]


def _criteria(p: Panelist) -> list[str | None]:
    """Yes to each criterion, but a blank "COI disclosed" for one panelist."""
    return [
        None if c == "COI disclosed" and p.email == COI_NOT_DISCLOSED else "Yes"
        for c in CRITERIA_COLUMNS
    ]


def generate(seed: int = SEED) -> dict[str, list[list[Any]]]:
    """The workbook's tabs as {tab name: rows (header first)}, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    rounds = _simulate(rng, _draw_traits(rng))
    sheets = [(rd.number, rd.statements, _responses(rng, rd)) for rd in rounds]
    return FORM.tabs(sheets, _panel_rows())


def build_workbook(path: str | Path) -> None:
    """Generate the study with the default seed and write it to ``path``."""
    FORM.write(generate(), Path(path))


# --- reading the tabs back (summary) -------------------------------------------------------------


def round_outcomes(tabs: forms.Tabs, number: int) -> dict[str, str]:
    """Statement id -> 'in' / 'out' / 'none' for a round, by the generator's 75% rule."""
    ratings = FORM.latest_ratings(tabs, number)
    sids = forms.rating_columns(tabs, number).values()
    return {sid: _classify([r.get(sid) for r in ratings.values()]) for sid in sids}


def _cells_where(tabs: forms.Tabs, wanted: Any) -> list[str]:
    """'tab row N, id (column header)' for every rating cell holding ``wanted`` (None = blank)."""
    found = []
    for number in (1, 2, 3):
        rows = tabs[f"Round {number}"]
        for j, sid in forms.rating_columns(tabs, number).items():
            found += [
                f"Round {number} row {i}, {sid} ({rows[0][j][:50]}...)"
                for i, row in enumerate(rows[1:], start=2)
                if row[j] == wanted
            ]
    return found


def _round_lines(tabs: forms.Tabs) -> list[str]:
    """Per round: statements, respondents, rows, consensus counts and statement ids."""
    lines = []
    for number in (1, 2, 3):
        outcome = round_outcomes(tabs, number)
        counts = {k: sum(v == k for v in outcome.values()) for k in ("in", "out", "none")}
        rows = len(tabs[f"Round {number}"]) - 1
        lines.append(
            f"Round {number}: {len(outcome)} statements, "
            f"{len(FORM.latest_ratings(tabs, number))} respondents ({rows} rows); consensus "
            f"in {counts['in']}, out {counts['out']}, none {counts['none']}"
        )
        lines.append("  ids: " + " ".join(outcome))
        lines.append("  no consensus: " + " ".join(k for k, v in outcome.items() if v == "none"))
    return lines


def _panel_lines(tabs: forms.Tabs) -> list[str]:
    """Dropouts, double submissions and email spellings that differ from the panel list."""
    panel = {forms.identity(row[0]) for row in tabs["Panel"][1:]}
    lines = []
    for number in (1, 2, 3):
        rows = tabs[f"Round {number}"]
        seen = [forms.identity(r[1]) for r in rows[1:]]
        missing = sorted(panel - set(seen))
        if missing:
            lines.append(f"Round {number}: no submission from {', '.join(missing)}")
        for who in sorted({s for s in seen if seen.count(s) > 1}):
            at = [str(i) for i, s in enumerate(seen, start=2) if s == who]
            lines.append(f"Round {number}: {who} submitted twice (rows {', '.join(at)})")
        lines += [
            f"Round {number} row {i}: email written as {r[1]!r}"
            for i, r in enumerate(rows[1:], start=2)
            if r[1] != forms.identity(r[1])
        ]
    return lines


def summarise(tabs: forms.Tabs) -> str:
    """A short human-readable summary of the generated study."""
    stmts = tabs["Statements"][1:]
    first = {row[0]: row[1] for row in reversed(stmts)}
    lines = _round_lines(tabs)
    lines += [f"Revised: {r[4]} -> {r[0]} (round {r[1]})" for r in stmts if r[4]]
    lines += [
        f"New: {sid} (round {rnd})"
        for sid, rnd in first.items()
        if rnd > 1 and not any(r[0] == sid and r[4] for r in stmts)
    ]
    lines += _panel_lines(tabs)
    lines += ["Unable to judge: " + c for c in _cells_where(tabs, UNABLE)]
    lines += ["Blank: " + c for c in _cells_where(tabs, None)]
    return "\n".join(lines)


def main() -> None:
    """Write the workbook next to this script and print a summary."""
    tabs = generate()
    FORM.write(tabs, OUT_PATH)
    print(f"Wrote {OUT_PATH}")
    print(summarise(tabs))


if __name__ == "__main__":
    main()
