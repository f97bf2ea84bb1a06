#include "eval/retrieval_eval.h"

#include <memory>

#include "blockattn/tokenizer.h"

#include "eval/answer_match.h"

namespace blockattn::eval {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

bool exact_match(const std::string& output, const std::string& answer) {
  return trim(output) == trim(answer);
}

RetrievalEvalResult eval_retrieval(Engine& engine, const std::string& tokenizer_dir,
                                   const std::vector<std::string>& documents,
                                   const RetrievalEvalOptions& o,
                                   const std::function<void(size_t, size_t)>& progress) {
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::load(tokenizer_dir);
  data::SynthOptions so;
  so.task = o.task;
  so.split = data::Split::kEval;
  so.passages = o.passages;
  so.passage_tokens = o.passage_tokens;
  so.seed = o.seed;
  data::SynthGenerator gen(
      documents, so, [t = tokenizer.get()](std::string_view s) { return t->encode(s).size(); });

  RetrievalEvalResult r;
  double prompt_tokens = 0;
  for (size_t i = 0; i < o.items; ++i) {
    const data::SynthItem item = gen.make(i);
    GenerateRequest req;
    req.blocks = item.blocks();
    req.query = item.question;
    req.mode = o.mode;
    req.max_new_tokens = o.max_new_tokens;
    req.use_cache = false;  // every item is new; caching would only cost memory
    const GenerateResult out = engine.generate(req);
    prompt_tokens += out.timings.prompt_tokens;
    ++r.items;
    r.token_f1 += answer_token_f1(out.text, item.answer);
    if (exact_match(out.text, item.answer)) {
      ++r.correct;
    } else if (r.failures.size() < 5) {
      r.failures.push_back({item.id, item.question, item.answer, out.text});
    }
    if (progress) progress(r.items, r.correct);
  }
  r.exact_match = r.items ? static_cast<double>(r.correct) / static_cast<double>(r.items) : 0;
  r.token_f1 = r.items ? r.token_f1 / static_cast<double>(r.items) : 0;
  r.mean_prompt_tokens = r.items ? prompt_tokens / static_cast<double>(r.items) : 0;
  return r;
}

}  // namespace blockattn::eval
