// The varied QA task (synth --task qa, data/qa_facts.h): train and evaluation wordings and
// entities disjoint, generation deterministic, abstention items answerless, answers planted once.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "data/qa_facts.h"
#include "data/synthetic_corpus.h"
#include "data/synthetic_tasks.h"
#include "test_util.h"

namespace blockattn::data {
namespace {

const std::vector<std::string>& corpus() {
  static const auto texts = read_jsonl_texts({test::fixture("corpus/jsonl/docs.jsonl")});
  return texts;
}

SynthOptions qa_opts(Split split, uint64_t seed = 1, double abstain = 0.3) {
  SynthOptions o;
  o.task = SynthTask::kQa;
  o.split = split;
  o.passages = 6;
  o.passage_tokens = 60;
  o.seed = seed;
  o.abstain_rate = abstain;
  return o;
}

size_t count_in(const std::vector<std::string>& blocks, const std::string& needle) {
  size_t n = 0;
  for (const std::string& b : blocks)
    for (size_t at = b.find(needle); at != std::string::npos; at = b.find(needle, at + 1)) ++n;
  return n;
}

std::set<std::string> all_templates(Split split) {
  std::set<std::string> out;
  for (FactType t : all_fact_types()) {
    const FactTemplates& ft = fact_templates(t, split);
    for (const auto* v : {&ft.statements, &ft.questions, &ft.subject_nouns})
      for (const std::string& s : *v) {
        EXPECT_TRUE(out.insert(s).second) << "duplicate within a split: " << s;
      }
  }
  return out;
}

std::set<std::string> all_entities(Split split) {
  const AnswerPools& p = answer_pools(split);
  std::set<std::string> out;
  for (const auto* v :
       {&p.first_names, &p.surnames, &p.months, &p.units, &p.places, &p.phrase_words})
    out.insert(v->begin(), v->end());
  return out;
}

TEST(QaFacts, TrainAndEvalTemplatesAndEntitiesDisjoint) {
  const auto train_t = all_templates(Split::kTrain), eval_t = all_templates(Split::kEval);
  ASSERT_FALSE(train_t.empty());
  ASSERT_FALSE(eval_t.empty());
  for (const std::string& s : eval_t) EXPECT_EQ(train_t.count(s), 0u) << s;
  const auto train_e = all_entities(Split::kTrain), eval_e = all_entities(Split::kEval);
  for (const std::string& s : eval_e) EXPECT_EQ(train_e.count(s), 0u) << s;
  // Each type has at least two statements and two questions on both sides.
  for (FactType t : all_fact_types())
    for (Split s : {Split::kTrain, Split::kEval}) {
      EXPECT_GE(fact_templates(t, s).statements.size(), 2u) << fact_type_name(t);
      EXPECT_GE(fact_templates(t, s).questions.size(), 2u) << fact_type_name(t);
    }
  // Dates: training years and evaluation years never meet.
  SynthRng rng(3);
  for (int i = 0; i < 200; ++i) {
    const std::string t = draw_answer(FactType::kDate, Split::kTrain, rng);
    EXPECT_LT(std::stoi(t.substr(t.size() - 4)), 2000) << t;
    const std::string e = draw_answer(FactType::kDate, Split::kEval, rng);
    EXPECT_GE(std::stoi(e.substr(e.size() - 4)), 2000) << e;
  }
}

// The training pools are large enough that a model cannot learn their answers by heart (the
// hand-written lists plus made-up entries, each entry once), and drawing from them reaches most
// of each pool; the evaluation pools stay the hand-written lists.
TEST(QaFacts, TrainPoolsAreOpenVocabulary) {
  const AnswerPools& train = answer_pools(Split::kTrain);
  for (const auto& [pool, at_least] :
       std::vector<std::pair<const std::vector<std::string>*, size_t>>{{&train.first_names, 400},
                                                                       {&train.surnames, 400},
                                                                       {&train.places, 300},
                                                                       {&train.phrase_words, 400},
                                                                       {&train.units, 15}}) {
    EXPECT_GE(pool->size(), at_least);
    EXPECT_EQ(std::set<std::string>(pool->begin(), pool->end()).size(), pool->size());
  }
  EXPECT_LT(answer_pools(Split::kEval).first_names.size(), 20u);
  SynthRng rng(11);
  std::set<std::string> people, places;
  for (int i = 0; i < 3000; ++i) {
    people.insert(draw_answer(FactType::kPerson, Split::kTrain, rng));
    places.insert(draw_answer(FactType::kPlace, Split::kTrain, rng));
  }
  EXPECT_GT(people.size(), 2500u);
  EXPECT_GT(places.size(), 250u);
}

TEST(QaFacts, ExpandTemplate) {
  SynthRng rng(1);
  EXPECT_EQ(expand_template("{S} is led by {A}.", "the Alder club", "Nora Quill", rng),
            "The Alder club is led by Nora Quill.");
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) seen.insert(expand_template("x [a|bb|c] y", "", "", rng));
  EXPECT_EQ(seen, (std::set<std::string>{"X a y", "X bb y", "X c y"}));
  EXPECT_THROW(expand_template("x [a|b y", "", "", rng), InputError);
}

TEST(QaTask, DeterministicForASeed) {
  const ChatFormat plain = ChatFormat::named("plain");
  SynthGenerator a(corpus(), qa_opts(Split::kEval, 7)), b(corpus(), qa_opts(Split::kEval, 7));
  SynthGenerator c(corpus(), qa_opts(Split::kEval, 8));
  size_t differ = 0;
  for (size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(a.make(i).to_json_line(plain), b.make(i).to_json_line(plain));
    differ += a.make(i).to_json_line(plain) != c.make(i).to_json_line(plain);
  }
  EXPECT_GT(differ, 15u);
}

TEST(QaTask, AnswersOnceAbstentionAnswerless) {
  for (Split split : {Split::kTrain, Split::kEval}) {
    SynthGenerator gen(corpus(), qa_opts(split, 11, 0.4));
    std::set<std::string> types, questions;
    size_t abstain = 0;
    for (size_t i = 0; i < 150; ++i) {
      const SynthItem item = gen.make(i);
      const std::vector<std::string> blocks = item.blocks();
      types.insert(item.fact_type);
      questions.insert(item.question);
      ASSERT_FALSE(item.facts.empty()) << item.id;
      if (item.answerable) {
        EXPECT_EQ(count_in(blocks, item.answer), 1u) << item.id << " " << item.answer;
        EXPECT_EQ(count_in({item.passages[item.fact_passage]}, item.answer), 1u) << item.id;
        EXPECT_EQ(item.facts[0].role, "answer");
      } else {
        ++abstain;
        EXPECT_EQ(item.answer, kAbstainAnswer);
        EXPECT_EQ(count_in(blocks, std::string(kAbstainAnswer)), 0u) << item.id;
        for (const SynthFact& f : item.facts) EXPECT_EQ(f.role, "distractor") << item.id;
      }
      // Distractor answers are planted and are never the target.
      for (const SynthFact& f : item.facts) {
        EXPECT_EQ(count_in(blocks, f.value), 1u) << item.id << " " << f.value;
        if (f.role == "distractor") {
          EXPECT_NE(f.value, item.answer);
        }
      }
      const auto j = nlohmann::json::parse(item.to_json_line(ChatFormat::named("plain")));
      EXPECT_EQ(j["task"], "qa");
      EXPECT_EQ(j["fact_type"], item.fact_type);
      EXPECT_EQ(j["answerable"], item.answerable);
    }
    EXPECT_EQ(types.size(), all_fact_types().size());
    EXPECT_GT(abstain, 30u);
    EXPECT_LT(abstain, 90u);
    EXPECT_GT(questions.size(), 100u);
  }
}

// The asked subject ("<Name> <noun>") of an unanswerable item is in no block.
TEST(QaTask, AbstentionSubjectInNoBlock) {
  SynthGenerator gen(corpus(), qa_opts(Split::kEval, 5, 1.0));
  for (size_t i = 0; i < 60; ++i) {
    const SynthItem item = gen.make(i);
    ASSERT_FALSE(item.answerable);
    // Find the subject in the question: a pool name followed by one of the type's nouns.
    FactType type = FactType::kCode;
    for (FactType t : all_fact_types())
      if (fact_type_name(t) == item.fact_type) type = t;
    std::string subject;
    for (const std::string& name : name_pool(Split::kEval).names)
      for (const std::string& noun : fact_templates(type, Split::kEval).subject_nouns)
        if (item.question.find(name + " " + noun) != std::string::npos &&
            (name + " " + noun).size() > subject.size())
          subject = name + " " + noun;
    ASSERT_FALSE(subject.empty()) << item.question;
    EXPECT_EQ(count_in(item.blocks(), subject), 0u) << item.id << ": " << subject;
  }
}

TEST(QaTask, BadAbstainRate) {
  SynthOptions o = qa_opts(Split::kTrain);
  o.abstain_rate = 1.5;
  EXPECT_THROW(SynthGenerator(corpus(), o), InputError);
  EXPECT_EQ(parse_task("qa"), SynthTask::kQa);
  EXPECT_THROW(parse_task("qaa"), InputError);
}

}  // namespace
}  // namespace blockattn::data
