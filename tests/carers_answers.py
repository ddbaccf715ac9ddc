"""Written answers as carers give them to "What would make the biggest difference to you as
a carer?", already redacted (names and places as the redactor leaves them), grouped by the
theme a person reading them would give. The theme suggestion tests check that answers of one
group are suggested together and answers of different groups are not."""

from __future__ import annotations

#: {the theme a reader would give: the answers}
CARERS_ANSWERS: dict[str, list[str]] = {
    "respite": [
        "A proper break. I have not had respite in two years.",
        "Respite care so I can have a break now and then.",
        "Someone to sit with Mum for a few hours so I get a break.",
        "More respite, even one weekend a month would be a break.",
        "Respite that is easy to book, I need a break before I burn out.",
        "A regular break from caring, respite care we can rely on.",
        "Respite beds near [PLACE] so I can have a break.",
    ],
    "money": [
        "Money. Carer's Allowance is not enough to live on.",
        "Help with money, the bills have gone up and Carer's Allowance has not.",
        "Carer's Allowance should be more money, I gave up work to care.",
        "Worrying about money and bills all the time.",
        "More money for carers, the allowance is far too low.",
        "Help with the energy bills and money worries.",
    ],
    "gp": [
        "Getting a GP appointment for my husband is impossible.",
        "GP appointments that I can book without ringing at 8am.",
        "The GP surgery never has appointments, we wait weeks.",
        "Being able to get a GP appointment when Dad is unwell.",
        "A GP appointment at a time I can get him there.",
        "Longer GP appointments, ten minutes is not enough for us.",
    ],
    "information": [
        "Information about what help there is, nobody told us anything.",
        "Knowing where to go for information and advice.",
        "One place with all the information for carers.",
        "Clear information about support, I found out about it by chance.",
        "Advice and information when Mum was first diagnosed.",
    ],
    "lonely": [
        "I feel lonely and cut off from friends.",
        "Not feeling so lonely, I never see friends any more.",
        "Someone to talk to, caring is lonely.",
        "A carers group so I feel less lonely and can talk to people like me.",
    ],
}

#: Answers that belong to no group above.
ODD_ONES_OUT: list[str] = [
    "Nothing really, we manage.",
    "The parking at the hospital.",
    "A ramp for the front door.",
]


def all_answers() -> list[tuple[int, str]]:
    """Every answer with an id (1, 2, ...), groups in order, then the odd ones out."""
    texts = [t for group in CARERS_ANSWERS.values() for t in group] + ODD_ONES_OUT
    return list(enumerate(texts, start=1))


def ids_of(theme: str) -> set[int]:
    """The ids `all_answers` gives the answers of one group."""
    start = 1
    for name, group in CARERS_ANSWERS.items():
        if name == theme:
            return set(range(start, start + len(group)))
        start += len(group)
    raise KeyError(theme)


#: The same kinds of answer in Welsh: respite (seibiant), money (arian), the GP (meddyg teulu).
WELSH_ANSWERS: dict[str, list[str]] = {
    "respite": [
        "Seibiant go iawn, dw i ddim wedi cael seibiant ers dwy flynedd.",
        "Gofal seibiant er mwyn i mi gael seibiant bob hyn a hyn.",
        "Mwy o seibiant, hyd yn oed un penwythnos y mis.",
        "Seibiant rheolaidd o ofalu, gofal seibiant y gallwn ddibynnu arno.",
        "Rhywun i eistedd gyda Mam am ychydig oriau er mwyn cael seibiant.",
    ],
    "money": [
        "Arian. Dydy Lwfans Gofalwr ddim yn ddigon i fyw arno.",
        "Help gydag arian a'r biliau.",
        "Mae'r biliau wedi codi ond nid y lwfans. Arian yw'r broblem.",
        "Poeni am arian a biliau drwy'r amser.",
        "Mwy o arian i ofalwyr, mae'r lwfans yn rhy isel.",
    ],
    "gp": [
        "Cael apwyntiad gyda'r meddyg teulu pan mae ei angen.",
        "Mae'n amhosib cael apwyntiad meddyg teulu.",
        "Apwyntiadau meddyg teulu hirach, dydy deg munud ddim yn ddigon.",
        "Apwyntiad meddyg teulu pan mae Dad yn sâl.",
    ],
}
