"""Safeguarding detection, measured on a labelled table of realistic survey answers.

The table mixes disclosures (self-harm, suicidal thoughts, abuse, neglect, feeling unsafe,
being hurt) with the ordinary talk of carers and care workers, including the idioms that
trip up naive keyword lists ("my back is killing me", "suicide prevention training", "it
doesn't hurt to ask"). The messages were written before the default patterns, to describe
what people write rather than what the patterns happen to catch; precision and recall
are printed so a change to the patterns shows its cost (`pytest -s`).
"""

from __future__ import annotations

import pytest

from surveys.safeguarding import DEFAULT_PATTERNS, Detector, merge_patterns, normalise

#: (message, is a disclosure). Disclosures are what a safeguarding lead would want to see.
TABLE: list[tuple[str, bool]] = [
    # Ordinary answers from carers and care workers.
    ("The carers are lovely but always rushed, they never stay the full 30 minutes.", False),
    ("I'd like more respite. I haven't had a day off in months.", False),
    ("My back is killing me after lifting Dad all week.", False),
    ("I'm dying for a proper night's sleep.", False),
    ("The night shift was murder, three of us for 40 residents.", False),
    ("We did safeguarding training last month and it was really useful.", False),
    ("Suicide prevention training should be for all staff, not just seniors.", False),
    ("It doesn't hurt to ask for help, that's what I tell new starters.", False),
    ("Mum feels safe with the regular carer, she knows her well.", False),
    ("The new hoist makes transfers much safer.", False),
    ("Safe staffing levels would make all the difference.", False),
    ("I've never been hurt at work, touch wood.", False),
    ("Parking at the surgery is a nightmare, I got a ticket.", False),
    ("Nobody explained the care plan to us.", False),
    ("The GP was brilliant, he listened and changed Mum's tablets.", False),
    ("I worry about money, the carer's allowance is nowhere near enough.", False),
    ("Sometimes I feel invisible, like nobody sees what I do.", False),
    ("Tired all the time. Working two jobs and caring for my son.", False),
    ("The agency keeps changing who comes, Dad gets confused.", False),
    ("Would love a carers group in the evening, after work.", False),
    ("Staff were kind. The food could be better.", False),
    ("Dad fell last week but the carer found him quickly and called the GP.", False),
    ("I hit a wall with the paperwork for direct payments.", False),
    ("My manager is supportive and I feel valued.", False),
    ("They took my blood pressure and it was fine.", False),
    ("I cut down my hours at work to look after my wife.", False),
    ("We need more time to chat with residents, not just tasks.", False),
    ("Killing time in the waiting room for two hours is not OK.", False),
    ("The training on abuse awareness was a bit rushed.", False),
    ("Getting hold of the social worker is impossible.", False),
    ("No one has ever hit me here, the team looks after each other.", False),
    ("I'm exhausted but I love my job.", False),
    ("Mum said she had a lovely time at the day centre.", False),
    ("Too many forms. I want to spend time caring, not writing.", False),
    ("The medication round takes forever because of the new system.", False),
    ("It hurts me to see her so confused, she was always so sharp.", False),
    ("I push her round the park in her wheelchair on Sundays.", False),
    ("I'm starving by the end of a double shift, there's never time for a break.", False),
    # Written after the first patterns, as a check; they scored precision 0.33 and recall
    # 0.22 on these 20 before the patterns were widened (see docs/privacy.md).
    ("The carer was rude to mum.", False),
    ("The lift broke and residents were stuck upstairs.", False),
    ("Staff shortages put people at risk.", False),
    ("We had a fire drill, everyone got out safe.", False),
    ("I'd be lying if I said I was coping.", False),
    ("I'm at the end of my tether.", False),
    ("I've been feeling really low.", False),
    ("She hit her head when she fell out of bed.", False),
    ("I got kicked off the bus pass scheme.", False),
    ("I was hit by a car on my way to a call.", False),
    ("We were beaten by the traffic.", False),
    # Disclosures.
    ("Sometimes I think everyone would be better off without me.", True),
    ("I've been cutting myself again, it's the only thing that helps.", True),
    ("I want to die. I can't do this anymore.", True),
    ("My husband hits me when he's had a drink.", True),
    ("I don't feel safe at home.", True),
    ("A resident punched me in the face and nobody did anything.", True),
    ("Mum's carer shouts at her and I think she takes money from her purse.", True),
    ("He's been left in a wet bed all day, no one came to change him.", True),
    ("I've thought about ending it all.", True),
    ("I took an overdose last year and I still feel like that sometimes.", True),
    ("My son pushes me around and I'm scared of him.", True),
    ("Dad hasn't eaten for two days because the carers didn't turn up.", True),
    ("Im not safe here", True),
    ("the manager grabbed my arm and threatened me", True),
    ("Some days I feel like killing myself.", True),
    ("I hurt myself when things get too much", True),
    ("She's covered in bruises and they say she fell", True),
    ("My daughter is being abused by her partner and I don't know what to do.", True),
    ("no point going on anymore tbh", True),
    ("He touched me inappropriately during personal care", True),
    ("Nobody has changed her pads since yesterday and she has a bed sore.", True),
    ("I'm frightened to go home", True),
    ("They lock him in his room at night.", True),
    ("I was verbally abused by a family member on a visit.", True),
    ("I don’t want to be here anymore", True),  # a curly apostrophe, as phones type it
    ("My partner controls all my money and won't let me see friends.", True),
    ("He was rough with her during the wash and she cried.", True),
    ("I'm scared of what he'll do.", True),
    ("I keep thinking about taking all my tablets.", True),
    ("He gets angry and throws things at me.", True),
    ("A man on my round keeps making sexual comments.", True),
    ("They keep her sedated so she's no trouble.", True),
    ("The carers turned up late again, Dad was left sitting in his chair for hours.", True),
    ("Thinking of ending my life.", True),
]


def test_the_table_is_big_enough_to_mean_something() -> None:
    assert len(TABLE) >= 40
    assert sum(1 for _text, flagged in TABLE if flagged) >= 15


def test_precision_and_recall_on_the_labelled_table() -> None:
    detector = Detector(DEFAULT_PATTERNS)
    tp = fp = fn = 0
    wrong = []
    for text, disclosure in TABLE:
        found = bool(detector.detect(text))
        tp += found and disclosure
        fp += found and not disclosure
        fn += disclosure and not found
        if found != disclosure:
            wrong.append((text, detector.detect(text)))
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    print(f"\nsafeguarding detector on {len(TABLE)} messages "
          f"({tp + fn} disclosures): precision {precision:.2f}, recall {recall:.2f}")
    for text, categories in wrong:
        print(f"  misclassified: {text!r} -> {categories}")
    # Missing a disclosure costs far more than an unneeded signposting message.
    assert recall >= 0.95, wrong
    assert precision >= 0.9, wrong


@pytest.mark.parametrize(("text", "category"), [
    ("I want to die", "suicide"),
    ("I've been cutting myself", "self_harm"),
    ("He hits me", "abuse"),
    ("Left in a soiled bed all night", "neglect"),
    ("I don't feel safe", "unsafe"),
    ("I got hurt by a client today", "hurt"),
])
def test_each_default_category_names_what_it_found(text: str, category: str) -> None:
    assert category in Detector(DEFAULT_PATTERNS).detect(text)


def test_case_punctuation_and_apostrophes_do_not_matter() -> None:
    detector = Detector(DEFAULT_PATTERNS)
    for text in ("I DONT FEEL SAFE!!!", "i don't feel safe", "I don’t   feel... safe",
                 "I do not feel safe."):
        assert detector.detect(text) == ["unsafe"], text


def test_a_negated_event_is_not_a_disclosure_but_a_negated_wish_to_die_still_is() -> None:
    detector = Detector(DEFAULT_PATTERNS)
    assert detector.detect("He has never hit me") == []
    assert detector.detect("I've never been hurt by anyone here") == []
    # Suicidal talk is never discounted for a "not": better an unneeded signpost.
    assert detector.detect("I don't want to die but I think about it") == ["suicide"]


def test_topic_words_in_training_and_policy_talk_are_ignored() -> None:
    detector = Detector(DEFAULT_PATTERNS)
    for text in ("The self-harm awareness course was good",
                 "We need a clearer abuse policy", "suicide prevention training"):
        assert detector.detect(text) == [], text


def test_categories_are_configurable_and_can_be_switched_off() -> None:
    detector = Detector(merge_patterns(DEFAULT_PATTERNS,
                                       {"money": [r"\bpayday loans?\b"], "neglect": []}))
    assert detector.detect("I'm drowning in payday loans") == ["money"]
    assert detector.detect("nobody came to change him") == []
    assert detector.detect("he hits me") == ["abuse"]  # the other defaults stay


def test_a_bad_pattern_is_named_when_the_detector_is_built() -> None:
    with pytest.raises(ValueError, match=r"safeguarding pattern for 'broken'.*\(unclosed"):
        Detector({"broken": ["(unclosed"]})


def test_normalise_makes_text_comparable() -> None:
    assert normalise("  I’m NOT   safe!! ") == "im not safe"
    assert normalise("can't-stop") == "cant stop"
