// Synthetic long-context tasks (`blockattn synth`): passages of real corpus text with planted
// facts, then a question only the context answers. The passages double as the blocks of a
// block-attention prompt.
//
//   retrieval    one fact "The access code of the Alder archive is 48213." in a random passage;
//                "What is the access code of the Alder archive?" -> "48213"
//   far          the same, the fact always in the first passage (farthest from the question)
//   distractors  the fact plus near-miss facts: the same name with another noun (Alder annex),
//                a look-alike name (Elder archive), another attribute of the same key
//   two-facts    "The Alder archive is in the town of Marlow." + "The access code of the town of
//                Marlow is 48213." in different passages, a decoy pair for another town;
//                "What is the access code of the town where the Alder archive is?"
//   qa           varied extractive QA (qa_facts.h): one of six fact types (code, person, date,
//                amount, place, phrase) stated with a random template of the split, on its own or
//                spliced into a real corpus sentence, asked with a question worded apart from the
//                statement, among 0-2 facts of the same type about other subjects; a fraction
//                (abstain_rate) are unanswerable: the asked subject is in no block and the
//                answer is kAbstainAnswer ("The context does not say.")
//
// Names, nouns and values come from the split's own pool (name_pools.h), so evaluation items
// share no entity or value with training items. Item i of a (seed, split, task) is the same
// whatever n is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/name_pools.h"
#include "data/qa_facts.h"
#include "data/synthetic_passages.h"

#include "tokenizer/chat_format.h"

namespace blockattn::data {

enum class SynthTask { kRetrieval, kTwoFacts, kDistractors, kFar, kQa };

// "retrieval" | "two-facts" | "distractors" | "far" | "qa"
std::string_view task_name(SynthTask task);
SynthTask parse_task(std::string_view name);  // throws InputError

struct SynthOptions {
  SynthTask task = SynthTask::kRetrieval;
  Split split = Split::kTrain;
  size_t passages = 8;          // 1..256
  size_t passage_tokens = 200;  // 16..8192
  uint64_t seed = 1;
  // retrieval only: < 0 plants the fact in a random passage; a depth in [0, 1] plants it in
  // passage round(depth · (passages - 1)) (needle-in-a-haystack sweeps). Items differ only there.
  double fact_depth = -1;
  // qa only: the fraction of unanswerable items, 0..1.
  double abstain_rate = 0.2;
};

struct SynthFact {
  std::string text;                // the planted sentence
  size_t passage = 0;              // where it was planted
  std::string role;                // "answer" | "bridge" | "distractor"
  std::vector<std::string> names;  // the names it mentions (pool names or look-alikes)
  std::string noun;                // the noun of its key, empty for a town's fact
  std::string value;               // its number, or the town of a bridge
};

struct SynthItem {
  std::string id;  // "<split>-<task>-s<seed>-<index>"
  SynthTask task = SynthTask::kRetrieval;
  Split split = Split::kTrain;
  std::vector<std::string> passages;
  size_t fact_passage = 0;  // the passage holding the answer
  std::string question;
  std::string answer;
  std::vector<SynthFact> facts;
  // qa only: the fact type ("code", "person", ...) and whether a block answers the question
  // (false: answer is kAbstainAnswer, fact_passage is 0 and no fact has role "answer").
  std::string fact_type;
  bool answerable = true;

  // The prompt's context blocks: each passage followed by a blank line (the engine uses blocks
  // verbatim, so this is what a caller passing the passages as documents sends).
  std::vector<std::string> blocks() const;
  // The training text in the engine's prompt layout: blocks(), then
  // format.final_text(question) + format.answer_text(answer). E.g. chatml:
  // "...\n\n<|im_start|>user\n<q><|im_end|>\n<|im_start|>assistant\n<a><|im_end|>".
  std::string text(const ChatFormat& format) const;
  // One JSONL line (no newline): id, task, split, passages, fact_passage, question, answer,
  // text (in `format`), facts; qa items also fact_type and answerable.
  std::string to_json_line(const ChatFormat& format) const;
};

class SynthGenerator {
 public:
  // Throws InputError for options out of range or a corpus without text.
  SynthGenerator(const std::vector<std::string>& documents, const SynthOptions& options,
                 TokenCounter counter = {});

  SynthItem make(size_t index) const;

  const PassageSampler& sampler() const { return sampler_; }

 private:
  void fill_qa(SynthItem* item, SynthRng& rng) const;

  SynthOptions options_;
  PassageSampler sampler_;
  uint64_t stream_;  // (seed, split, task) hashed: the item seeds of one stream
};

}  // namespace blockattn::data
