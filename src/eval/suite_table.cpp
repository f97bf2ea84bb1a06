#include "eval/suite_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "blockattn/error.h"

namespace blockattn::eval {

bool lower_is_better(const std::string& task) { return task == "final-block"; }

namespace {

double at(const SuiteRow& r, const std::string& task) {
  auto it = r.score.find(task);
  if (it == r.score.end())
    throw InputError("suite row " + r.model + " (" + r.mode + ") has no score for " + task);
  return it->second;
}

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

}  // namespace

SuiteSummary summarize(const std::vector<std::string>& tasks, const std::vector<SuiteRow>& rows,
                       size_t row) {
  if (rows.size() < 2 || rows[0].mode != "full" || rows[1].mode != "block" ||
      rows[0].model != rows[1].model)
    throw InputError("the suite's first rows must be the teacher in full, then block attention");
  SuiteSummary s;
  s.worst = 1e300;
  for (const std::string& t : tasks) {
    const double v = at(rows[row], t), tf = at(rows[0], t), tb = at(rows[1], t);
    const double ratio = lower_is_better(t) ? tf / v : (tf > 0 ? v / tf : 1.0);
    s.worst = std::min(s.worst, ratio);
    s.mean += ratio / static_cast<double>(tasks.size());
    // Only where block attention costs the teacher something is there a gap to close.
    const bool gap = lower_is_better(t) ? tb - tf >= 0.01 * tf : tf - tb >= 0.01;
    if (gap) {
      s.gap_closed += (v - tb) / (tf - tb);
      ++s.gap_tasks;
    }
  }
  if (s.gap_tasks > 0) s.gap_closed /= s.gap_tasks;
  return s;
}

std::string suite_table(const std::vector<std::string>& tasks, const std::vector<SuiteRow>& rows) {
  std::string out = "| model | mode |";
  for (const auto& t : tasks) out += " " + t + (lower_is_better(t) ? " ppl" : "") + " |";
  out += " worst vs teacher full | mean vs teacher full | gap closed |\n| --- | --- |";
  for (size_t i = 0; i < tasks.size() + 3; ++i) out += " ---: |";
  out += "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    out += "| " + rows[r].model + " | " + rows[r].mode + " |";
    for (const auto& t : tasks)
      out += lower_is_better(t) ? format(" %.3f |", at(rows[r], t))
                                : format(" %.1f%% |", 100 * at(rows[r], t));
    const SuiteSummary s = summarize(tasks, rows, r);
    out += format(" %.1f%% |", 100 * s.worst) + format(" %.1f%% |", 100 * s.mean);
    out += s.gap_tasks > 0 ? format(" %.0f%%", 100 * s.gap_closed) + " (" +
                                 std::to_string(s.gap_tasks) + " tasks) |\n"
                           : std::string(" n/a |\n");
  }
  if (!rows[0].needle_cells.empty()) {
    out += "\nneedle exact match by haystack tokens @ depth:\n\n| model | mode |";
    for (const auto& [cell, v] : rows[0].needle_cells) out += " " + cell + " |";
    out += "\n| --- | --- |";
    for (size_t i = 0; i < rows[0].needle_cells.size(); ++i) out += " ---: |";
    out += "\n";
    for (const SuiteRow& r : rows) {
      out += "| " + r.model + " | " + r.mode + " |";
      for (const auto& [cell, v] : rows[0].needle_cells) {
        auto it = r.needle_cells.find(cell);
        out += it == r.needle_cells.end() ? std::string(" - |")
                                          : format(" %.0f%% |", 100 * it->second);
      }
      out += "\n";
    }
  }
  if (!rows[0].qa_breakdown.empty()) {
    out +=
        "\nqa-varied (held-out phrasing) exact match / token F1 on answerable items, abstention "
        "accuracy on unanswerable ones:\n\n| model | mode |";
    for (const auto& [key, v] : rows[0].qa_breakdown) out += " " + key + " |";
    out += "\n| --- | --- |";
    for (size_t i = 0; i < rows[0].qa_breakdown.size(); ++i) out += " ---: |";
    out += "\n";
    for (const SuiteRow& r : rows) {
      out += "| " + r.model + " | " + r.mode + " |";
      for (const auto& [key, v] : rows[0].qa_breakdown) {
        auto it = r.qa_breakdown.find(key);
        out += it == r.qa_breakdown.end() ? std::string(" - |")
                                          : format(" %.1f%% |", 100 * it->second);
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace blockattn::eval
