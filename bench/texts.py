"""Synthetic words for the benchmark dataset: names, categories, descriptions.

Nothing here is a real person. Descriptions are built from sentence templates
so that word pairs a Key User would search for ("phone messages", "lunch
money") occur in a known, modest share of incidents, as they would in a real
school's records; SEARCH_PAIRS lists the pairs the load run searches for.
"""

import random

FIRST_NAMES = (
    "Amara",
    "Ben",
    "Chloe",
    "Dylan",
    "Ella",
    "Finn",
    "Grace",
    "Harvey",
    "Isla",
    "Jack",
    "Kai",
    "Lily",
    "Mason",
    "Nia",
    "Oscar",
    "Priya",
    "Quinn",
    "Ruby",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Xena",
    "Yusuf",
    "Zara",
    "Aaron",
    "Bella",
    "Caleb",
    "Daisy",
    "Ethan",
    "Freya",
    "George",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Leah",
    "Milo",
    "Noor",
)
LAST_NAMES = (
    "Adeyemi",
    "Brown",
    "Clarke",
    "Davies",
    "Evans",
    "Fischer",
    "Green",
    "Hughes",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Novak",
    "Okafor",
    "Patel",
    "Quinn",
    "Roberts",
    "Smith",
    "Taylor",
    "Usman",
    "Valdez",
    "Walker",
    "Young",
    "Zielinski",
    "Ahmed",
    "Baker",
    "Cooper",
    "Dunn",
    "Ellis",
)
STAFF_TITLES = ("Ms", "Mr", "Mx", "Dr")

# Weighted like a secondary school's safeguarding log: many low-level concerns,
# few of the gravest kinds.
CATEGORIES = (
    ("Bullying", 14),
    ("Online safety", 12),
    ("Attendance", 11),
    ("Mental health", 11),
    ("Peer-on-peer abuse", 8),
    ("Emotional abuse", 7),
    ("Neglect", 7),
    ("Self-harm", 6),
    ("Domestic abuse", 6),
    ("Physical abuse", 5),
    ("Substance misuse", 4),
    ("Child criminal exploitation", 3),
    ("Radicalisation", 2),
    ("Sexual abuse", 2),
)

_PLACES = (
    "in the playground",
    "at break time",
    "in the lunch hall",
    "in the corridor",
    "on the school bus",
    "in the changing rooms",
    "during PE",
    "in form time",
    "in the library",
    "at the school gate",
    "during a science lesson",
    "in the toilets",
    "on the field",
    "after school club",
)
_WHEN = (
    "this morning",
    "yesterday",
    "at lunchtime",
    "before registration",
    "after the last lesson",
    "over the weekend",
    "last night",
)
_OPENINGS = (
    "Seen upset {place}; said older pupils had been taking their lunch money.",
    "Disclosed {when} that they had not eaten since the previous lunchtime.",
    "Bruise on the arm noticed {place}; the explanation given was inconsistent.",
    "Received unkind messages on a group chat {when} and showed staff the phone.",
    "Arrived late and tired for the third day this week.",
    "Mentioned shouting at home and said they did not want to go back.",
    "Found crying in the toilets {when}; would not say why.",
    "Shared an image of another pupil without consent on their phone.",
    "Told a teaching assistant {when} that someone at home hurts them.",
    "Appeared withdrawn {place} and has stopped speaking to friends.",
    "Reported that an adult they met online asked for photos.",
    "Was pushed against a wall {place} by a group of pupils.",
    "Has missed several lessons and was seen leaving the site {when}.",
    "Parent phoned {when} worried about messages the pupil receives at night.",
    "Spoke about feeling hopeless and not wanting to be here any more.",
    "Had cuts on the wrist noticed {place}; first aid was given.",
    "Smelled of cannabis {when} and was unsteady in the corridor.",
    "Was collected by an unknown adult {when}; not on the contact list.",
    "Said an older student pays them to carry packages after school.",
    "Made comments {place} repeating extremist material seen online.",
)
_DETAILS = (
    "Staff spoke with the pupil {place} and recorded their words.",
    "The pupil said it has happened before, mostly {when}.",
    "Friends confirmed the account and named the same group of pupils.",
    "The pupil asked that their parents are not told yet.",
    "Messages on the phone were seen by the form tutor.",
    "The pupil seemed hungry and asked for extra food at lunch.",
    "Clothing was unwashed and not suitable for the weather.",
    "A sibling at the school gave a similar account {when}.",
    "Attendance has dropped this term and the pupil is often late.",
    "The pupil became tearful when home was mentioned.",
    "There was shouting heard during a phone call with home.",
    "Lunch money has gone missing twice this week.",
)
_ACTIONS = (
    "Passed to the DSL for review.",
    "Parents contacted and a meeting arranged.",
    "Referred to the school counsellor.",
    "Early help assessment to be considered.",
    "Logged and the pupil will be monitored by the form tutor.",
    "Referral made to children's social care.",
    "Police informed by the DSL.",
    "Pastoral lead to check in with the pupil tomorrow.",
)

# Word pairs searched for by the containing filter, from common to rare: in the
# generated texts they match roughly 17%, 10%, 5%, 5%, 0.7%, 0.4%, 0.4% and 0.4%
# of incidents. Common pairs make totalCount expensive (every match is counted),
# rare ones make the page itself walk further; a real search box sees both.
SEARCH_PAIRS = (
    "phone messages",
    "lunch money",
    "cuts wrist",
    "online photos",
    "crying morning",
    "pushed bus",
    "bruise PE",
    "withdrawn library",
)


def descriptions(rng: random.Random, count: int) -> list[str]:
    """`count` distinct-ish descriptions of 2 to 4 sentences, 80-400 characters."""
    return [_description(rng) for _ in range(count)]


def _description(rng: random.Random) -> str:
    sentences = [rng.choice(_OPENINGS)]
    sentences += rng.sample(_DETAILS, rng.choice((0, 1, 1, 2)))
    sentences.append(rng.choice(_ACTIONS))
    text = " ".join(sentences)
    return text.format(place=rng.choice(_PLACES), when=rng.choice(_WHEN))


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def staff_name(rng: random.Random) -> str:
    return (
        f"{rng.choice(STAFF_TITLES)} {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    )
