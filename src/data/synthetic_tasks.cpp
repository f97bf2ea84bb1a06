#include "data/synthetic_tasks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"

namespace blockattn::data {

namespace {

const SynthOptions& checked(const SynthOptions& o) {
  if (o.passages < 1 || o.passages > 256)
    throw InputError("passages must be 1..256, got " + std::to_string(o.passages));
  if (o.passage_tokens < 16 || o.passage_tokens > 8192)
    throw InputError("passage tokens must be 16..8192, got " + std::to_string(o.passage_tokens));
  if (!(o.abstain_rate >= 0 && o.abstain_rate <= 1))
    throw InputError("abstain rate must be 0..1, got " + std::to_string(o.abstain_rate));
  return o;
}

template <typename T>
const T& pick(const std::vector<T>& v, SynthRng& rng) {
  return v[rng.below(v.size())];
}

// A pick different from every one of `avoid`.
template <typename T>
const T& pick_other(const std::vector<T>& v, SynthRng& rng, const std::vector<T>& avoid) {
  for (;;) {
    const T& x = pick(v, rng);
    if (std::find(avoid.begin(), avoid.end(), x) == avoid.end()) return x;
  }
}

size_t count_in(const std::vector<std::string>& passages, const std::string& needle) {
  size_t n = 0;
  for (const std::string& p : passages)
    for (size_t at = p.find(needle); at != std::string::npos; at = p.find(needle, at + 1)) ++n;
  return n;
}

// Puts `fact` at a random sentence start of the passage (or at its end), whole sentences intact.
void plant(std::string* passage, const std::string& fact, SynthRng& rng) {
  auto spans = sentence_spans(*passage);
  size_t k = rng.below(spans.size() + 1);
  if (k == spans.size())
    *passage += (passage->empty() ? "" : " ") + fact;
  else
    passage->insert(spans[k].first, fact + " ");
}

// Splices `fact` into a real sentence of the passage that ends with '.': "<sentence>; <fact>"
// (a leading "The " of the fact lowercased). Without such a sentence, plants it on its own.
void embed(std::string* passage, const std::string& fact, SynthRng& rng) {
  std::vector<size_t> ends;  // byte offset of a sentence's final '.'
  for (const auto& [b, e] : sentence_spans(*passage)) {
    size_t last = e;
    while (last > b && ((*passage)[last - 1] == ' ' || (*passage)[last - 1] == '\n')) --last;
    if (last > b + 1 && (*passage)[last - 1] == '.') ends.push_back(last - 1);
  }
  if (ends.empty()) return plant(passage, fact, rng);
  std::string clause = fact;
  if (clause.rfind("The ", 0) == 0) clause[0] = 't';
  passage->replace(ends[rng.below(ends.size())], 1, "; " + clause);
}

// Everything one item draws, before it is written out as facts.
struct Draw {
  std::string name, noun, attribute;
  std::vector<std::string> values;  // distinct 5-digit values absent from the passages
};

}  // namespace

std::string_view task_name(SynthTask task) {
  switch (task) {
    case SynthTask::kRetrieval:
      return "retrieval";
    case SynthTask::kTwoFacts:
      return "two-facts";
    case SynthTask::kDistractors:
      return "distractors";
    case SynthTask::kFar:
      return "far";
    case SynthTask::kQa:
      return "qa";
  }
  return "?";
}

SynthTask parse_task(std::string_view name) {
  for (SynthTask t : {SynthTask::kRetrieval, SynthTask::kTwoFacts, SynthTask::kDistractors,
                      SynthTask::kFar, SynthTask::kQa})
    if (task_name(t) == name) return t;
  throw InputError("unknown task '" + std::string(name) +
                   "' (want retrieval, two-facts, distractors, far or qa)");
}

std::vector<std::string> SynthItem::blocks() const {
  std::vector<std::string> out;
  for (const std::string& p : passages) out.push_back(p + "\n\n");
  return out;
}

std::string SynthItem::text(const ChatFormat& format) const {
  std::string out;
  for (const std::string& b : blocks()) out += b;
  return out + format.final_text(question) + format.answer_text(answer);
}

std::string SynthItem::to_json_line(const ChatFormat& format) const {
  nlohmann::json facts_json = nlohmann::json::array();
  for (const SynthFact& f : facts)
    facts_json.push_back({{"passage", f.passage}, {"role", f.role}, {"text", f.text}});
  nlohmann::ordered_json j;
  j["id"] = id;
  j["task"] = task_name(task);
  j["split"] = split_name(split);
  j["passages"] = passages;
  j["fact_passage"] = fact_passage;
  j["question"] = question;
  j["answer"] = answer;
  j["text"] = text(format);
  j["facts"] = facts_json;
  if (task == SynthTask::kQa) {
    j["fact_type"] = fact_type;
    j["answerable"] = answerable;
  }
  return j.dump();
}

SynthGenerator::SynthGenerator(const std::vector<std::string>& documents,
                               const SynthOptions& options, TokenCounter counter)
    : options_(checked(options)),
      sampler_(documents, options.split, options.passages, std::move(counter)),
      stream_(label_hash(std::string(split_name(options.split)) + "/" +
                         std::string(task_name(options.task)) + "/" +
                         std::to_string(options.seed))) {}

SynthItem SynthGenerator::make(size_t index) const {
  SynthRng rng(mix64(stream_ + index));
  const NamePool& pool = name_pool(options_.split);
  const size_t P = options_.passages;

  SynthItem item;
  char id[96];
  std::snprintf(id, sizeof id, "%s-%s-s%llu-%06zu", std::string(split_name(options_.split)).c_str(),
                std::string(task_name(options_.task)).c_str(),
                static_cast<unsigned long long>(options_.seed), index);
  item.id = id;
  item.task = options_.task;
  item.split = options_.split;
  std::vector<size_t> used;
  for (size_t i = 0; i < P; ++i)
    item.passages.push_back(sampler_.sample(rng, options_.passage_tokens, &used));
  if (options_.task == SynthTask::kQa) {
    fill_qa(&item, rng);
    return item;
  }

  // The key must not already occur in the real text, nor any value we plant.
  Draw d;
  do {
    d.name = pick(pool.names, rng);
    d.noun = pick(pool.nouns, rng);
  } while (count_in(item.passages, d.name + " " + d.noun) > 0);
  d.attribute = pick(fact_attributes(), rng);
  while (d.values.size() < 4) {
    std::string v = std::to_string(draw_value(options_.split, rng));
    if (count_in(item.passages, v) == 0 &&
        std::find(d.values.begin(), d.values.end(), v) == d.values.end())
      d.values.push_back(v);
  }

  auto add = [&](std::string text, size_t passage, const char* role, std::vector<std::string> names,
                 std::string noun, std::string value) {
    item.facts.push_back(
        {std::move(text), passage, role, std::move(names), std::move(noun), std::move(value)});
  };
  auto keyed = [](const std::string& attr, const std::string& name, const std::string& noun,
                  const std::string& v) {
    return "The " + attr + " of the " + name + " " + noun + " is " + v + ".";
  };
  const std::string& answer = d.values[0];

  switch (options_.task) {
    case SynthTask::kRetrieval:
    case SynthTask::kFar: {
      size_t at = options_.task == SynthTask::kFar ? 0 : rng.below(P);
      if (options_.task == SynthTask::kRetrieval && options_.fact_depth >= 0)
        at = static_cast<size_t>(
            std::lround(std::min(options_.fact_depth, 1.0) * static_cast<double>(P - 1)));
      add(keyed(d.attribute, d.name, d.noun, answer), at, "answer", {d.name}, d.noun, answer);
      item.question = "What is the " + d.attribute + " of the " + d.name + " " + d.noun + "?";
      break;
    }
    case SynthTask::kDistractors: {
      add(keyed(d.attribute, d.name, d.noun, answer), rng.below(P), "answer", {d.name}, d.noun,
          answer);
      const std::string noun2 = pick_other(pool.nouns, rng, {d.noun});
      add(keyed(d.attribute, d.name, noun2, d.values[1]), rng.below(P), "distractor", {d.name},
          noun2, d.values[1]);
      std::string look = lookalike_name(d.name, rng.next());
      add(keyed(d.attribute, look, d.noun, d.values[2]), rng.below(P), "distractor", {look}, d.noun,
          d.values[2]);
      const std::string attr2 = pick_other(fact_attributes(), rng, {d.attribute});
      add(keyed(attr2, d.name, d.noun, d.values[3]), rng.below(P), "distractor", {d.name}, d.noun,
          d.values[3]);
      item.question = "What is the " + d.attribute + " of the " + d.name + " " + d.noun + "?";
      break;
    }
    case SynthTask::kTwoFacts: {
      // Two hops: key -> town (bridge), town -> value. A decoy key with the same name leads to
      // another town with its own value, so skipping the bridge does not work.
      const std::string town = pick_other(pool.names, rng, {d.name});
      const std::string town2 = pick_other(pool.names, rng, {d.name, town});
      const std::string noun2 = pick_other(pool.nouns, rng, {d.noun});
      size_t bridge_at = rng.below(P);
      size_t answer_at = P > 1 ? (bridge_at + 1 + rng.below(P - 1)) % P : 0;
      auto in_town = [](const std::string& name, const std::string& noun, const std::string& t) {
        return "The " + name + " " + noun + " is in the town of " + t + ".";
      };
      auto town_value = [&](const std::string& t, const std::string& v) {
        return "The " + d.attribute + " of the town of " + t + " is " + v + ".";
      };
      add(in_town(d.name, d.noun, town), bridge_at, "bridge", {d.name, town}, d.noun, town);
      add(town_value(town, answer), answer_at, "answer", {town}, "", answer);
      add(in_town(d.name, noun2, town2), rng.below(P), "distractor", {d.name, town2}, noun2, town2);
      add(town_value(town2, d.values[1]), rng.below(P), "distractor", {town2}, "", d.values[1]);
      item.question =
          "What is the " + d.attribute + " of the town where the " + d.name + " " + d.noun + " is?";
      break;
    }
    case SynthTask::kQa:  // fill_qa, above
      break;
  }
  for (const SynthFact& f : item.facts) {
    plant(&item.passages[f.passage], f.text, rng);
    if (f.role == std::string("answer")) item.fact_passage = f.passage;
  }
  item.answer = answer;
  return item;
}

void SynthGenerator::fill_qa(SynthItem* item, SynthRng& rng) const {
  const Split split = options_.split;
  const NamePool& pool = name_pool(split);
  const size_t P = options_.passages;
  const FactType type = pick(all_fact_types(), rng);
  const FactTemplates& t = fact_templates(type, split);
  item->fact_type = std::string(fact_type_name(type));
  item->answerable = static_cast<double>(rng.below(1000000)) >= options_.abstain_rate * 1e6;

  // Subjects "the <Name> <noun>" whose key is nowhere in the real text, answers that are not
  // either; all distinct. Subject 0 is asked about; in an abstention item it is never planted.
  const size_t distractors = item->answerable ? rng.below(3) : 1 + rng.below(2);
  std::vector<std::string> keys, answers;
  const std::string first_name = pick(pool.names, rng);
  while (keys.size() < 1 + distractors) {
    // The first distractor shares the asked subject's name half the time (a near miss).
    const std::string& name = keys.empty() || (keys.size() == 1 && rng.below(2) == 0)
                                  ? first_name
                                  : pick(pool.names, rng);
    std::string key = name + " " + pick(t.subject_nouns, rng);
    if (count_in(item->passages, key) == 0 &&
        std::find(keys.begin(), keys.end(), key) == keys.end())
      keys.push_back(std::move(key));
  }
  while (answers.size() < keys.size()) {
    std::string a = draw_answer(type, split, rng);
    // No answer inside another ("12 euros" in "112 euros"): each is found exactly where planted.
    const bool overlaps = std::any_of(answers.begin(), answers.end(), [&](const std::string& b) {
      return a.find(b) != std::string::npos || b.find(a) != std::string::npos;
    });
    if (count_in(item->passages, a) == 0 && !overlaps) answers.push_back(std::move(a));
  }
  const QaFact asked = make_qa_fact(type, split, "the " + keys[0], answers[0], rng);
  for (size_t k = item->answerable ? 0 : 1; k < keys.size(); ++k) {
    const QaFact f = k == 0 ? asked : make_qa_fact(type, split, "the " + keys[k], answers[k], rng);
    const size_t at = rng.below(P);
    item->facts.push_back({f.statement,
                           at,
                           k == 0 ? "answer" : "distractor",
                           {keys[k].substr(0, keys[k].find(' '))},
                           keys[k].substr(keys[k].find(' ') + 1),
                           answers[k]});
  }
  for (const SynthFact& f : item->facts) {
    if (rng.below(2) == 0)
      embed(&item->passages[f.passage], f.text, rng);
    else
      plant(&item->passages[f.passage], f.text, rng);
    if (f.role == std::string("answer")) item->fact_passage = f.passage;
  }
  item->question = asked.question;
  item->answer = item->answerable ? answers[0] : std::string(kAbstainAnswer);
}

}  // namespace blockattn::data
