// Varied extractive QA facts for the `qa` synthetic task (synthetic_tasks.h): six fact types,
// several ways to state each fact and to ask for it, and random word choices inside each
// template. Templates and entity pools come in two disjoint sets, one per split (the split of
// name_pools.h), so evaluation items use wordings and entities no training item used.
//
// A template is text with slots: {S} the subject ("the Alder archive"), {A} the answer, and
// alternatives [a|b|c] of which one is drawn ("[is|was set to]"). Questions share as few words
// with their statements as the fact allows ("Which number opens ...?" for "The lock of ... is").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "data/name_pools.h"
#include "data/synthetic_rng.h"

namespace blockattn::data {

enum class FactType { kCode, kPerson, kDate, kAmount, kPlace, kPhrase };

std::string_view fact_type_name(FactType type);  // "code" | "person" | "date" | "amount" | ...
const std::vector<FactType>& all_fact_types();

// The target of an unanswerable item: no block states the fact asked for.
inline constexpr std::string_view kAbstainAnswer = "The context does not say.";

// One fact type's wording for one split.
struct FactTemplates {
  std::vector<std::string> statements;  // with {S}, {A} and [..|..] alternatives
  std::vector<std::string> questions;   // with {S} and alternatives
  std::vector<std::string>
      subject_nouns;  // what a subject is ("club", "depot"): {S} = "the <Name> <noun>"
};
const FactTemplates& fact_templates(FactType type, Split split);

// Answer pools of one split (disjoint between splits, tests/base/qa_facts_test.cpp). The
// training pools hold hundreds of made-up names, places and phrase words besides the
// hand-written ones (so that a model learns to copy answers, not to remember them); the
// evaluation pools are hand-written English-looking entities.
struct AnswerPools {
  std::vector<std::string> first_names, surnames;  // person answers "Nora Quill"
  std::vector<std::string> months;                 // date answers "14 March 1987" (years split)
  std::vector<std::string> units;                  // amount answers "340 crowns"
  std::vector<std::string> places;                 // place answers "Harbour Street"
  std::vector<std::string> phrase_words;           // phrase answers: three words "red lantern gate"
};
const AnswerPools& answer_pools(Split split);

// Expands [a|b] alternatives and the {S}/{A} slots.
std::string expand_template(std::string_view tmpl, const std::string& subject,
                            const std::string& answer, SynthRng& rng);

// A value of `type` for `split`: a 5-digit code of the split's numbers, a person, a date, an
// amount, a place or a three-word phrase from the split's pools.
std::string draw_answer(FactType type, Split split, SynthRng& rng);

// A planted fact: its sentence, the question about it, and the answer span.
struct QaFact {
  FactType type = FactType::kCode;
  std::string subject;    // "the Alder archive"
  std::string statement;  // one sentence, ends with '.'
  std::string question;
  std::string answer;
};
// A fact about `subject` of `type`, worded with the split's templates.
QaFact make_qa_fact(FactType type, Split split, const std::string& subject,
                    const std::string& answer, SynthRng& rng);

}  // namespace blockattn::data
