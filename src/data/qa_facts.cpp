#include "data/qa_facts.h"

#include <functional>
#include <set>

#include "blockattn/error.h"

namespace blockattn::data {

namespace {

using Strings = std::vector<std::string>;

// Train wordings. Questions avoid the statement's verbs where the language allows.
const FactTemplates kTrainCode{
    {"The [access|entry|door] code of {S} is {A}.",
     "To open {S}, [staff|visitors|members] [enter|key in|type] {A}.",
     "{S} [can be|is] unlocked with the code {A}.",
     "For {S}, the [combination|keypad number] [is|was set to] {A}.",
     "[Note|Remember] that the lock on {S} [opens|responds] to {A}.",
     "[The caretaker|Management] changed the code of {S} to {A}.",
     "If you need to get into {S}, the number is {A}."},
    {"What [code|number] opens {S}?", "Which [combination|digits] [unlock|get you into] {S}?",
     "What do I [type|enter] to get into {S}?", "[What is|Do you know] the code for {S}?",
     "Which number [lets me into|works on the door of] {S}?"},
    {"archive", "depot", "annex", "locker room", "storeroom", "boathouse"}};
const FactTemplates kEvalCode{
    {"Anyone entering {S} [must|should] [use|punch in] {A}.",
     "The [keypad|lock] at {S} [takes|accepts] {A}.", "{A} is the [PIN|passcode] [for|of] {S}."},
    {"[Tell me|Give me] the [PIN|passcode] needed for {S}.",
     "How does one [get past|open] the lock of {S}?"},
    {"vault", "pavilion", "cellar", "workshop", "shed"}};

const FactTemplates kTrainPerson{
    {"The [treasurer|secretary|chair] of {S} is {A}.", "{A} [runs|leads|manages] {S}.",
     "{S} is [run|led|managed] by {A}.",
     "Since [spring|autumn|last year], {A} has been in charge of {S}.",
     "[After the vote|Following the election], {A} became the head of {S}.",
     "{S} [elected|appointed] {A} as its [president|director]."},
    {"Who [runs|is in charge of] {S}?", "Who is the [head|person responsible] for {S}?",
     "[Which person|Who] leads {S}?", "Who [directs|chairs] {S}?", "Whom should I ask about {S}?"},
    {"club", "choir", "committee", "society", "league", "team"}};
const FactTemplates kEvalPerson{
    {"{A} [took over|now heads] {S}.", "Questions about {S} go to {A}, who [heads|oversees] it.",
     "Heading {S} [this year|at present] is {A}."},
    {"Who [oversees|is the leader of] {S}?", "[Name|Tell me] the person at the head of {S}."},
    {"guild", "orchestra", "council", "trust", "union"}};

const FactTemplates kTrainDate{
    {"{S} [takes place|will be held|is scheduled] on {A}.",
     "The date of {S} [is|was fixed as] {A}.", "{S} [opens|begins|starts] on {A}.",
     "[This year|Next time], {S} [comes|returns] on {A}.", "The committee [moved|set] {S} to {A}."},
    {"When is {S}?", "On what [date|day] does {S} [happen|start]?",
     "[What is the date|Which day] of {S}?", "When [does|will] {S} take place?",
     "[On which day|When exactly] can I attend {S}?"},
    {"fair", "meeting", "festival", "auction", "regatta", "market"}};
const FactTemplates kEvalDate{
    {"Mark {A} in the calendar: that is {S}.", "{S} [falls on|is set for] {A}.",
     "[Organisers|Planners] have put {S} on {A}."},
    {"For which [date|day] is {S} planned?", "[Tell me|Say] when {S} [will be|is on]."},
    {"gala", "tournament", "reunion", "ceremony", "parade"}};

const FactTemplates kTrainAmount{
    {"The [fee|charge|cost] for {S} is {A}.", "{S} [costs|charges] {A}.",
     "[Members|Guests|Visitors] pay {A} for {S}.", "[Expect to pay|You will pay] {A} for {S}.",
     "The price of {S} [went up|was raised] to {A}."},
    {"How much [is|does one pay for] {S}?", "What does {S} cost?",
     "[What is the price of|How much money is] {S}?", "How much [do I owe|must I pay] for {S}?",
     "What [fee|charge] applies to {S}?"},
    {"course", "permit", "ticket", "tour", "membership", "rental"}};
const FactTemplates kEvalAmount{
    {"A [place on|seat at] {S} [comes to|runs at] {A}.", "Budget {A} for {S}.",
     "{S} [is priced at|sets you back] {A}."},
    {"What is the [total|price] [for|of] {S}?", "How much should I [budget|set aside] for {S}?"},
    {"workshop pass", "season pass", "excursion", "lesson", "lease"}};

const FactTemplates kTrainPlace{
    {"{S} [is held|takes place|meets] at {A}.", "The [venue|location] of {S} is {A}.",
     "{S} [has moved|moved] to {A}.", "[Since the move|These days], {S} is at {A}.",
     "[People|Visitors] looking for {S} [should go|are sent] to {A}."},
    {"Where is {S}?", "Where does {S} [meet|take place]?",
     "[At what place|In which location] is {S}?", "Where [do I go|should I go] for {S}?",
     "[What is the location|Where is the venue] of {S}?"},
    {"reading group", "clinic", "class", "office", "studio", "exhibition"}};
const FactTemplates kEvalPlace{
    {"You will find {S} at {A}.", "{S} [gathers|is hosted] at {A}.", "[Go|Head] to {A} for {S}."},
    {"[Where can I find|What is the address of] {S}?", "To what place should I go for {S}?"},
    {"surgery", "depot office", "seminar", "rehearsal", "help desk"}};

const FactTemplates kTrainPhrase{
    {"The [password|watchword] of {S} is \"{A}\".",
     "At {S}, [members|guards] [say|give] \"{A}\" at the door.",
     "{S} [uses|has] the motto \"{A}\".", "The [secret|agreed] words at {S} are \"{A}\".",
     "[Everyone|Each member] at {S} [knows|repeats] \"{A}\"."},
    {"What is the [password|motto] of {S}?", "What do [members|people] say at {S}?",
     "[Which phrase|What words] belong to {S}?", "What is the [secret|agreed] phrase of {S}?",
     "What must I say at the door of {S}?"},
    {"lodge", "camp", "crew", "circle", "house"}};
const FactTemplates kEvalPhrase{{"To be let into {S}, [whisper|recite] \"{A}\".",
                                 "\"{A}\" is [the phrase|what is spoken] at {S}."},
                                {"[Which|What] words [get you into|open the door of] {S}?",
                                 "What [phrase|saying] is tied to {S}?"},
                                {"order", "fellowship", "brigade", "retreat"}};

const AnswerPools kTrainAnswers{
    {"Nora",   "Elias",  "Maren", "Tobias", "Ingrid", "Felix", "Clara", "Jonas",  "Greta", "Oskar",
     "Helena", "Viktor", "Agnes", "Lukas",  "Sofia",  "Anton", "Ida",   "Henrik", "Lena",  "Pavel"},
    {"Quill", "Hartley", "Brenner", "Okafor", "Lindqvist", "Moreau", "Castell", "Fenwick", "Adair",
     "Novak", "Rasmussen", "Ferreira", "Whitlow", "Kessler", "Drummond", "Tanaka"},
    {"January", "March", "May", "July", "September", "November"},
    {"euros", "dollars", "crowns", "pesos", "rupees", "marks"},
    {"Harbour Street", "the old mill", "the town hall", "Station Road", "the north gate",
     "the library annex", "Bridge Lane", "the market square", "the fire station", "Chapel Row"},
    {"red", "lantern", "gate", "silent", "river", "copper", "morning", "north", "bell", "stone",
     "green", "window", "quiet", "road", "seven", "tower", "autumn", "key"}};
const AnswerPools kEvalAnswers{{"Mirela", "Caspar", "Yusuf", "Dagny", "Teodor", "Leonie", "Rafael",
                                "Sunniva", "Emeric", "Odile", "Bastian", "Zofia"},
                               {"Penhallow", "Varga", "Achebe", "Thornquist", "Delacroix",
                                "Marchetti", "Oyelaran", "Strand", "Halloran", "Kowalczyk"},
                               {"February", "April", "June", "August", "October", "December"},
                               {"pounds", "francs", "yen", "lira", "rand", "guilders"},
                               {"Quay Parade", "the east wing", "the boat shed", "Orchard Close",
                                "the guildhall", "Kiln Yard", "the upper terrace"},
                               {"amber", "harp", "falcon", "winter", "velvet", "lighthouse",
                                "crooked", "meadow", "silver", "drum", "hollow", "distant"}};

// Years are split too: dates of training items never fall in an evaluation year.
int draw_year(Split split, SynthRng& rng) {
  return split == Split::kTrain ? static_cast<int>(rng.range(1950, 1999))
                                : static_cast<int>(rng.range(2000, 2029));
}

template <typename T>
const T& pick(const std::vector<T>& v, SynthRng& rng) {
  return v[rng.below(v.size())];
}

// A pronounceable made-up word of `syllables` syllables ("bramo", "kelvastin").
std::string pseudo_word(SynthRng& rng, uint64_t syllables) {
  static const Strings kOnsets = {"b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",  "l",  "m",
                                  "n",  "p",  "r",  "s",  "t",  "v",  "w",  "z",  "br", "cl",
                                  "dr", "fl", "gr", "kr", "pl", "st", "tr", "sh", "ch", "th"};
  static const Strings kVowels = {"a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "y"};
  static const Strings kCodas = {"", "", "", "n", "r", "l", "s", "m", "t", "nd", "rt", "st"};
  std::string w;
  for (uint64_t i = 0; i < syllables; ++i)
    w += pick(kOnsets, rng) + pick(kVowels, rng) + (i + 1 == syllables ? pick(kCodas, rng) : "");
  return w;
}

std::string capitalized(std::string w) {
  if (!w.empty() && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 'a' + 'A');
  return w;
}

std::string lowered(std::string w) {
  for (char& c : w)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return w;
}

// The training pools: the hand-written lists above, extended with made-up names, places and
// words and more currencies. A small model trained on 20 first names and 10 places learns those
// answers by heart, and on held-out entities answers with a training one or abstains (code
// answers, random digits, were the only type it copied: docs/results/sft-lora-2026-12-03.md);
// hundreds of entities it cannot memorise leave copying from the context as the way to the
// answer. Fixed seed: the pools are part of the data recipe. No entry equals an evaluation
// entity (case-insensitive).
AnswerPools make_train_answers() {
  AnswerPools p = kTrainAnswers;
  std::set<std::string> taken;
  for (const AnswerPools* pools : {&kTrainAnswers, &kEvalAnswers})
    for (const Strings* v : {&pools->first_names, &pools->surnames, &pools->months, &pools->units,
                             &pools->places, &pools->phrase_words})
      for (const std::string& w : *v) taken.insert(lowered(w));
  SynthRng rng(0x71a5eedULL);
  auto grow = [&](Strings& v, size_t target, const std::function<std::string()>& make) {
    while (v.size() < target)
      if (std::string w = make(); taken.insert(lowered(w)).second) v.push_back(std::move(w));
  };
  grow(p.first_names, 400, [&] { return capitalized(pseudo_word(rng, 2 + rng.below(2))); });
  grow(p.surnames, 400, [&] { return capitalized(pseudo_word(rng, 2 + rng.below(2))); });
  static const Strings kStreets = {"Street", "Road",   "Lane",  "Row",  "Gardens", "Crescent",
                                   "Hill",   "Square", "Wharf", "Mews", "Avenue",  "Place"};
  static const Strings kBuildings = {"hall",    "mill",  "gate",   "tower", "annex",
                                     "station", "depot", "chapel", "barn",  "pier"};
  grow(p.places, 300, [&] {
    return rng.below(2) == 0 ? capitalized(pseudo_word(rng, 2)) + " " + pick(kStreets, rng)
                             : "the " + pseudo_word(rng, 2) + " " + pick(kBuildings, rng);
  });
  grow(p.phrase_words, 400, [&] { return pseudo_word(rng, 1 + rng.below(2)); });
  for (const char* unit :
       {"kroner", "dinars", "zlotys", "forints", "shillings", "ducats", "florins", "talers",
        "drachmas", "escudos", "pesetas", "rubles", "riyals", "dirhams", "ringgits"})
    if (taken.insert(unit).second) p.units.push_back(unit);
  return p;
}

}  // namespace

std::string_view fact_type_name(FactType type) {
  switch (type) {
    case FactType::kCode:
      return "code";
    case FactType::kPerson:
      return "person";
    case FactType::kDate:
      return "date";
    case FactType::kAmount:
      return "amount";
    case FactType::kPlace:
      return "place";
    case FactType::kPhrase:
      return "phrase";
  }
  return "?";
}

const std::vector<FactType>& all_fact_types() {
  static const std::vector<FactType> types = {FactType::kCode,  FactType::kPerson,
                                              FactType::kDate,  FactType::kAmount,
                                              FactType::kPlace, FactType::kPhrase};
  return types;
}

const FactTemplates& fact_templates(FactType type, Split split) {
  const bool train = split == Split::kTrain;
  switch (type) {
    case FactType::kCode:
      return train ? kTrainCode : kEvalCode;
    case FactType::kPerson:
      return train ? kTrainPerson : kEvalPerson;
    case FactType::kDate:
      return train ? kTrainDate : kEvalDate;
    case FactType::kAmount:
      return train ? kTrainAmount : kEvalAmount;
    case FactType::kPlace:
      return train ? kTrainPlace : kEvalPlace;
    case FactType::kPhrase:
      return train ? kTrainPhrase : kEvalPhrase;
  }
  return kTrainCode;
}

const AnswerPools& answer_pools(Split split) {
  static const AnswerPools train = make_train_answers();
  return split == Split::kTrain ? train : kEvalAnswers;
}

std::string expand_template(std::string_view t, const std::string& subject,
                            const std::string& answer, SynthRng& rng) {
  std::string out;
  for (size_t i = 0; i < t.size();) {
    if (t[i] == '[') {
      const size_t close = t.find(']', i);
      if (close == std::string_view::npos)
        throw InputError("template has an unclosed '[': " + std::string(t));
      std::vector<std::string_view> alts;
      for (size_t a = i + 1;;) {
        const size_t bar = t.find('|', a);
        const size_t end = bar == std::string_view::npos || bar > close ? close : bar;
        alts.push_back(t.substr(a, end - a));
        if (end == close) break;
        a = end + 1;
      }
      out += alts[rng.below(alts.size())];
      i = close + 1;
    } else if (t.compare(i, 3, "{S}") == 0) {
      out += subject;
      i += 3;
    } else if (t.compare(i, 3, "{A}") == 0) {
      out += answer;
      i += 3;
    } else {
      out += t[i++];
    }
  }
  // A subject at the start of a sentence is capitalised ("the Alder club" -> "The Alder club").
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z')
    out[0] = static_cast<char>(out[0] - 'a' + 'A');
  return out;
}

std::string draw_answer(FactType type, Split split, SynthRng& rng) {
  const AnswerPools& p = answer_pools(split);
  switch (type) {
    case FactType::kCode:
      return std::to_string(draw_value(split, rng));
    case FactType::kPerson:
      return pick(p.first_names, rng) + " " + pick(p.surnames, rng);
    case FactType::kDate:
      return std::to_string(rng.range(1, 28)) + " " + pick(p.months, rng) + " " +
             std::to_string(draw_year(split, rng));
    case FactType::kAmount:
      return std::to_string(rng.range(2, 999)) + " " + pick(p.units, rng);
    case FactType::kPlace:
      return pick(p.places, rng);
    case FactType::kPhrase: {
      std::string out = pick(p.phrase_words, rng);
      for (int k = 0; k < 2; ++k) out += " " + pick(p.phrase_words, rng);
      return out;
    }
  }
  return {};
}

QaFact make_qa_fact(FactType type, Split split, const std::string& subject,
                    const std::string& answer, SynthRng& rng) {
  const FactTemplates& t = fact_templates(type, split);
  QaFact f;
  f.type = type;
  f.subject = subject;
  f.answer = answer;
  f.statement = expand_template(pick(t.statements, rng), subject, answer, rng);
  f.question = expand_template(pick(t.questions, rng), subject, answer, rng);
  return f;
}

}  // namespace blockattn::data
