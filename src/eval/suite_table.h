// The table of `blockattn eval --suite` (docs/evaluation.md), from scores alone, so runs made on
// several machines can be merged (`--suite-report`). Torch-free.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace blockattn::eval {

struct SuiteRow {
  std::string model, mode;              // mode: "full" | "block"
  std::map<std::string, double> score;  // task -> exact match in [0, 1], or perplexity
  std::map<std::string, double> needle_cells;
  std::map<std::string, double> qa_breakdown;  // SuiteScores::qa_breakdown (eval/suite.h)
};

struct SuiteSummary {
  double worst = 0,
         mean = 0;  // score / teacher full (perplexity: teacher / score), min and mean over tasks
  double gap_closed =
      0;  // mean over gap tasks of (score - teacher block) / (teacher full - teacher block)
  int gap_tasks =
      0;  // tasks where the teacher's block mode is measurably worse (>= 1 point, >= 1% ppl)
};

bool lower_is_better(const std::string& task);  // perplexity columns

// rows[0] / rows[1]: the teacher in full / block attention. InputError if they are missing or a
// row lacks a task.
SuiteSummary summarize(const std::vector<std::string>& tasks, const std::vector<SuiteRow>& rows,
                       size_t row);

// Markdown: the main table (scores, worst/mean vs teacher full, gap closed), the needle cells and
// the qa-varied breakdown (EM / token F1 per fact type, abstention).
std::string suite_table(const std::vector<std::string>& tasks, const std::vector<SuiteRow>& rows);

}  // namespace blockattn::eval
