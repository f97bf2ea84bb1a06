// Word pools of the synthetic tasks, one per split, disjoint by construction: an evaluation
// item's entities and values never occur in any training item, so evaluation measures reading
// the context, not recall of training facts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "data/synthetic_rng.h"

namespace blockattn::data {

enum class Split { kTrain, kEval };

std::string_view split_name(Split split);  // "train" | "eval"
Split parse_split(std::string_view name);  // throws InputError on anything else

struct NamePool {
  std::vector<std::string> names;  // capitalised key names and towns: trees, rivers, birds, places...
  std::vector<std::string> nouns;  // what a name is attached to: "archive", "annex", "depot"...
};

// ~200 names and 30 nouns per split; the two splits share no word.
const NamePool& name_pool(Split split);

// Attributes a fact gives a value for ("access code", ...). Shared by both splits: the relation
// is what the model learns; the entities it is asked about are what must be new.
const std::vector<std::string>& fact_attributes();

// Every 5-digit value belongs to exactly one split (a hash of the number), so values are
// disjoint between splits yet drawn from the same range.
Split number_split(uint32_t value);
uint32_t draw_value(Split split, SynthRng& rng);  // uniform over the split's 5-digit values

// A look-alike of `name` with one letter changed ("Alder" -> "Elder", "Aldor") that is not in
// either split's pool, for near-miss distractor keys. `pick` chooses among the candidates.
std::string lookalike_name(std::string_view name, uint64_t pick);

}  // namespace blockattn::data
