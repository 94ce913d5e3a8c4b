"""Cue rules of the claim extractor: positive, negative and scope cases for each attribute.

The sentences are written for these tests in the styles the product meets (regulator pages, medical references,
news, vendor and rehab-centre pages), not copied from the seeds, so they check that the rules generalise.
"""

from __future__ import annotations

import pytest

from transforms.claims import EntityMention, SentenceInput, SentenceLabels, label_sentences


def label(*sentences: str) -> list[SentenceLabels]:
    """Label sentences written one after another in one paragraph (later ones see earlier ones as context)."""
    text, spans = "", []
    for s in sentences:
        if text:
            text += " "
        spans.append(SentenceInput(len(text), len(text) + len(s), "body"))
        text += s
    return label_sentences(text, spans)


def last(*sentences: str) -> SentenceLabels:
    return label(*sentences)[-1]


# ------------------------------------------------------------------------------------------------ certainty


@pytest.mark.parametrize(
    "sentence",
    [
        "Kratom may reduce cravings in people withdrawing from opioids.",
        "Kratom could cause liver damage in heavy users.",
        "Kratom can cause seizures at high doses.",  # "can" of possibility
        "Kratom is potentially addictive.",
        "Kratom is a possible treatment for chronic pain.",
        "Research suggests that kratom eases withdrawal.",
        "Kratom appears to relieve pain in some patients.",
        "Mitragynine seems to act on several receptor systems.",
        "Kratom is likely to interact with other medications.",
        "The alkaloids are believed to bind opioid receptors.",
        "Mitragynine is thought to be a partial agonist at the mu-opioid receptor.",
        "Kratom shows promise for opioid withdrawal.",
        "Kratom offers hope to people in recovery.",
        "Early results are promising for kratom as a pain reliever.",
    ],
)
def test_hedges(sentence):
    lab = last(sentence)
    assert lab.role == "claim" and lab.certainty == "hedged", lab


@pytest.mark.parametrize(
    "sentence",
    [
        "Kratom reduces cravings in people withdrawing from opioids.",
        "Mitragynine binds to mu-opioid receptors.",
        "Kratom is banned in six US states.",
        # "can" of ability or permission, not possibility
        "Prolactin levels can be measured with a simple blood test.",
        "Patients can buy kratom online in most states.",
        # a hedge about a beneficiary's concern does not qualify the claim
        "Kratom is a safer option for individuals concerned about potential side effects.",
        # a hedge in a conceded clause does not qualify an asserted main clause
        "While kratom may ease pain, it is not without risks.",
        "Although some studies suggest benefits, kratom causes dependence in regular users.",
        # "known to" is not a hedge
        "Mitragynine is known to bind opioid receptors.",
    ],
)
def test_not_hedged(sentence):
    lab = last(sentence)
    assert lab.role == "claim" and lab.certainty == "asserted", lab


@pytest.mark.parametrize(
    "sentence",
    [
        # the main clause only asks for research or gives advice: the conceded clause is the assertion
        "While kratom may help with withdrawal, more research is needed.",
        "While kratom shows promise, further studies are necessary.",
        "While kratom could ease cravings, it should be approached with caution.",
    ],
)
def test_concession_carries_the_assertion_when_the_main_clause_asserts_nothing(sentence):
    lab = last(sentence)
    assert lab.role == "claim" and lab.certainty == "hedged", lab


# ------------------------------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    "sentence, cue",
    [
        ("Kratom is non-addictive.", "non-addictive"),
        ("Kratom is not associated with liver damage.", "not associated with"),
        ("Kratom relieves pain without the addictive properties of opioids.", "without the addictive"),
        ("Mitragynine carries less risk of dependence than morphine.", "less risk of"),
        ("Kratom is free of the side effects of prescription drugs.", "free of the side effects"),
        ("Kratom does not cause respiratory depression.", "does not cause"),
        ("Kratom is not addictive.", "not addictive"),
        ("Our kratom has no side effects.", "no side effects"),
        ("Kratom is not approved by the FDA for any medical use.", "not"),
        ("The long-term safety profile of kratom isn't fully understood.", "isn't"),
        ("Kratom never causes overdoses on its own.", "never"),
        # a risk denial counts even in a conceded clause
        ("While non-addictive, kratom still needs careful dosing.", "non-addictive"),
    ],
)
def test_negated(sentence, cue):
    lab = last(sentence)
    assert lab.negated is True, lab
    assert cue in lab.cues, lab.cues


@pytest.mark.parametrize(
    "sentence",
    [
        "Kratom is not without risks.",  # litotes affirms the risks
        "Kratom not only eases pain but also lifts mood.",
        "The FDA has warned consumers not to use kratom.",  # a directive, not a denial
        "Kratom works for some people; what helps one person might not work as well for another.",
        "Kratom use requires caution due to a lack of long-term safety data.",  # reason adjunct
        "Research continues on whether kratom can be used without risk.",  # inside an inquiry
        "While it is not a cure, kratom eases cravings.",  # ordinary negation in a conceded clause
        "Kratom relieves pain for those who cannot tolerate opioids.",  # inside a beneficiary phrase
    ],
)
def test_not_negated(sentence):
    lab = last(sentence)
    assert lab.role == "claim" and lab.negated is False, lab


# ------------------------------------------------------------------------------------------------- evidence


@pytest.mark.parametrize(
    "sentence, evidence",
    [
        ("The FDA has warned that kratom can cause liver injury.", "named"),
        ("According to the CDC, kratom was involved in 91 overdose deaths.", "named"),
        ("A 2019 study found that kratom reduced pain scores.", "named"),
        ("Smith et al. reported three cases of liver injury.", "named"),
        ("Kratom reduced withdrawal symptoms in a small trial [3].", "named"),
        ("Kratom use has risen sharply (Grundmann 2017).", "named"),
        ("Researchers at Johns Hopkins University surveyed kratom users.", "named"),
        ("Studies show that kratom relieves chronic pain.", "vague"),
        ("Research suggests kratom may help with opioid withdrawal.", "vague"),
        ("Kratom has been shown to reduce cravings.", "vague"),
        ("There is growing evidence that kratom eases withdrawal.", "vague"),
        ("Scientists have found that mitragynine binds opioid receptors.", "vague"),
        ("Many users report that kratom helps them sleep.", "anecdotal"),
        ("Advocates argue that kratom saves lives.", "anecdotal"),
        ("Customers say our capsules boost energy.", "anecdotal"),
        ("Kratom is known to interact with opioid receptors.", "none"),
        ("More studies are needed on kratom.", "none"),
        ("The scientific evidence is still evolving.", "none"),
        ("Many people in Southeast Asia chew the leaves.", "none"),  # "many" without a verb of reporting
    ],
)
def test_evidence(sentence, evidence):
    assert last(sentence).evidence == evidence


def test_a_journal_title_is_a_source_not_a_claim():
    lab = last("A 2020 study in Drug and Alcohol Dependence found that most users took kratom for pain.")
    assert lab.evidence == "named"
    assert lab.subject == "kratom"
    assert "safety" not in lab.types  # "Dependence" in the journal's name is not a harm


# ------------------------------------------------------------------------------------------------------ role


@pytest.mark.parametrize(
    "sentence, role",
    [
        ("This article explores kratom's role in recovery.", "meta"),
        ("In this guide, we look at what the research says about kratom safety.", "meta"),
        ("We will discuss the risks of kratom below.", "meta"),
        ("‘The Role of Prolactin’ reveals how the hormone shapes recovery.", "meta"),
        ("Understanding kratom's mechanism is crucial for assessing its potential.", "meta"),
        ("Consult a healthcare provider before trying kratom.", "advice"),
        ("It is essential to talk to your doctor before using kratom.", "advice"),
        ("Individuals should be educated about the risks of kratom.", "advice"),
        ("Call our helpline today to start your recovery.", "advice"),
        ("Careful consideration and professional guidance are essential when exploring kratom.", "advice"),
        # advice that also carries a checkable fact is a claim
        ("It is critical to avoid misuse, which could lead to dependence.", "claim"),
        ("While kratom shows promise, it should be approached with caution.", "claim"),
        ("Kratom use requires caution due to reports of liver injury.", "claim"),
        ("Future studies should explore kratom's mechanism of action.", "claim"),  # research agenda
        ("Kratom is native to Southeast Asia.", "claim"),
    ],
)
def test_role(sentence, role):
    assert last(sentence).role == role


def test_advice_and_meta_have_no_claim_attributes():
    lab = last("Consult a healthcare provider before trying kratom.")
    assert (lab.claim_type, lab.types, lab.certainty, lab.negated) == (None, (), None, False)


# ----------------------------------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    "sentence, claim_type",
    [
        ("Kratom can cause seizures and liver injury.", "safety"),
        ("Kratom is non-addictive.", "safety"),
        ("Kratom products have been contaminated with salmonella.", "safety"),
        ("Kratom relieves opioid withdrawal symptoms.", "efficacy"),
        ("Thousands of customers report better sleep and less pain.", "efficacy"),
        ("Mitragynine is a partial agonist at the mu-opioid receptor.", "mechanism"),
        ("Kratom is banned in six US states.", "regulatory"),
        ("There are no FDA-approved uses for kratom.", "regulatory"),
        ("More research is needed on kratom.", "research"),
        ("Little is known about the long-term effects of kratom.", "research"),
        ("Kratom has gained popularity among people in recovery.", "usage"),
        ("Kratom is sold as capsules, powders and extracts.", "usage"),
        ("Kratom is native to Southeast Asia.", "origin"),
        ("The leaves contain more than forty alkaloids.", "origin"),
    ],
)
def test_claim_type(sentence, claim_type):
    lab = last(sentence)
    assert lab.role == "claim" and lab.claim_type == claim_type, lab
    assert lab.types[0] == claim_type


@pytest.mark.parametrize(
    "sentence, present, absent",
    [
        # the object of an inquiry is not claimed
        (
            "Further research is needed to understand kratom's safety and efficacy.",
            {"research"},
            {"safety", "efficacy"},
        ),
        ("Its long-term effects on brain chemistry are still being researched.", {"research"}, {"mechanism"}),
        # how it is regarded is usage, not an efficacy claim
        ("Kratom has gained attention as an aid for managing withdrawal.", {"usage"}, {"efficacy"}),
        # a beneficiary's situation is not claimed
        ("Kratom offers a safer option for people seeking relief from pain.", {"safety"}, {"efficacy"}),
        # a symptom being relieved is not a harm of the substance
        (
            "Users experienced a reduction in withdrawal symptoms, including insomnia.",
            {"efficacy"},
            {"safety"},
        ),
        # "harm reduction" is a use, not a harm
        ("Some clinics see kratom as a harm reduction tool.", set(), {"safety"}),
    ],
)
def test_type_scope(sentence, present, absent):
    types = set(last(sentence).types)
    assert present <= types, types
    assert not (absent & types), types


# ---------------------------------------------------------------------------------------------------- stance


@pytest.mark.parametrize(
    "sentence, stance",
    [
        ("Kratom relieves chronic pain.", "benefit"),
        ("Kratom is non-addictive.", "benefit"),
        ("Kratom is a safer alternative to prescription opioids.", "benefit"),
        ("Kratom can cause liver injury.", "risk"),
        ("The FDA has warned about the risks of kratom.", "risk"),
        ("While kratom may ease pain, it is not without risks.", "risk"),  # the main clause speaks
        ("Kratom eases withdrawal, but safety concerns remain.", "risk"),  # the final contrast speaks
        ("More research is needed to understand its long-term safety.", "risk"),  # safety left open
        ("Mitragynine binds to opioid receptors.", "neutral"),
        ("Kratom is native to Southeast Asia.", "neutral"),
        ("More research is needed to understand its mechanism of action.", "neutral"),
        ("Consult your doctor before combining kratom with other medications.", "risk"),  # a precaution
    ],
)
def test_stance(sentence, stance):
    assert last(sentence).stance == stance


# --------------------------------------------------------------------------------------------------- subject


@pytest.mark.parametrize(
    "sentences, subject",
    [
        (["Mitragynine binds to opioid receptors."], "mitragynine"),
        (["K shots are sold at gas stations."], "k shots"),
        (["Dopamine is a neurotransmitter linked to reward."], "dopamine"),
        (["Kratom is popular in the US.", "It eases pain."], "kratom"),
        (
            ["Kratom is popular in the US.", "Its main compound, mitragynine, binds opioid receptors."],
            "mitragynine",
        ),
        (
            [
                "Kratom is popular in the US.",
                "Its active compounds, mitragynine and 7-hydroxymitragynine, bind receptors.",
            ],
            "kratom",
        ),
        (
            ["K shots are sold at gas stations.", "This herb is native to Southeast Asia."],
            "kratom",
        ),  # the plant itself
        (["The plant contains mitragynine.", "This compound binds opioid receptors."], "mitragynine"),
        (
            ["Opioid withdrawal is painful.", "These symptoms arise when opioids are stopped."],
            "opioid withdrawal",
        ),
        (["Kratom is popular.", "Studies show it reduces prolactin."], "kratom"),  # past the evidence frame
    ],
)
def test_subject(sentences, subject):
    assert last(*sentences).subject == subject


# -------------------------------------------------------------------------------------------------- entities


def mention(lab: SentenceLabels, entity: str) -> EntityMention:
    found = [m for m in lab.entities if m.entity == entity]
    assert found, [m.entity for m in lab.entities]
    return found[0]


@pytest.mark.parametrize(
    "sentence, entity, polarity, direction",
    [
        ("Kratom is non-addictive.", "dependence", "negated", None),
        ("Regular use can lead to dependence.", "dependence", "affirmed", None),
        ("Kratom is not associated with hyperpigmentation.", "hyperpigmentation", "negated", None),
        ("Kratom relieves withdrawal symptoms.", "withdrawal", "treated", None),
        (
            "More research is needed to understand kratom's effect on the liver and its drug interactions.",
            "drug interactions",
            "uncertain",
            None,
        ),
        ("Studies show kratom reduces prolactin levels.", "prolactin", "affirmed", "decrease"),
        ("Side effects are linked to elevated prolactin levels.", "prolactin", "affirmed", "increase"),
        ("Kratom increases dopamine release.", "dopamine", "affirmed", "increase"),
        ("Kratom modulates the release of dopamine.", "dopamine", "affirmed", None),
        ("There are no FDA-approved uses for kratom.", "fda", "negated", None),  # inside "FDA-approved"
    ],
)
def test_entity_polarity_and_direction(sentence, entity, polarity, direction):
    m = mention(last(sentence), entity)
    assert (m.polarity, m.direction) == (polarity, direction)


def test_entity_offsets_index_the_document():
    sentences = ["Kratom is popular.", "Mitragynine, its main alkaloid, binds mu-opioid receptors."]
    text = " ".join(sentences)
    for lab in label(*sentences):
        for m in lab.entities:
            assert text[m.start : m.end].lower().startswith(
                m.entity.split()[0][:4].lower()
            ) or m.entity_type in (
                "target",
                "harm",
            )
    lab = label(*sentences)[1]
    m = mention(lab, "mitragynine")
    assert text[m.start : m.end] == "Mitragynine"


def test_cues_name_the_deciding_words():
    lab = last("Research suggests that kratom may help, but it is not associated with liver damage.")
    assert {"may", "not associated with"} <= set(lab.cues)
    assert any("research suggests" in c for c in lab.cues)
