// The suite table's summary columns: ratios to the teacher's full mode and the gap closed.
#include <gtest/gtest.h>

#include "blockattn/error.h"
#include "eval/suite_table.h"

namespace blockattn {
namespace {

using eval::SuiteRow;

TEST(SuiteTable, GapClosedCountsOnlyTasksWhereBlockModeCostsTheTeacher) {
  const std::vector<std::string> tasks = {"final-block", "qa16", "two-facts"};
  const std::vector<SuiteRow> rows = {
      {"teacher", "full", {{"final-block", 10.0}, {"qa16", 0.98}, {"two-facts", 0.45}}, {}, {}},
      {"teacher", "block", {{"final-block", 11.0}, {"qa16", 0.96}, {"two-facts", 0.50}}, {}, {}},
      {"student", "block", {{"final-block", 10.25}, {"qa16", 0.97}, {"two-facts", 0.40}}, {}, {}},
  };
  const eval::SuiteSummary s = eval::summarize(tasks, rows, 2);
  // two-facts: block mode is better for the teacher, so there is no gap to close there.
  EXPECT_EQ(s.gap_tasks, 2);
  EXPECT_NEAR(s.gap_closed, (0.75 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(s.worst, 0.40 / 0.45, 1e-12);
  EXPECT_NEAR(s.mean, (10.0 / 10.25 + 0.97 / 0.98 + 0.40 / 0.45) / 3, 1e-12);
  EXPECT_EQ(eval::summarize(tasks, rows, 0).gap_closed, 1.0);
  EXPECT_EQ(eval::summarize(tasks, rows, 1).gap_closed, 0.0);
  const std::string table = eval::suite_table(tasks, rows);
  EXPECT_NE(table.find("| student | block | 10.250 | 97.0% | 40.0% | 88.9% |"), std::string::npos)
      << table;
  EXPECT_NE(table.find("| 62% (2 tasks) |"), std::string::npos) << table;
  EXPECT_THROW(eval::summarize(tasks, {rows[2]}, 0), InputError);
}

TEST(SuiteTable, QaVariedBreakdown) {
  const std::vector<std::string> tasks = {"qa-varied"};
  const std::vector<SuiteRow> rows = {
      {"teacher", "full", {{"qa-varied", 0.9}}, {}, {{"abstain", 0.75}, {"em:date", 0.5}}},
      {"teacher", "block", {{"qa-varied", 0.8}}, {}, {{"abstain", 0.5}}},
  };
  const std::string table = eval::suite_table(tasks, rows);
  EXPECT_NE(table.find("| model | mode | abstain | em:date |"), std::string::npos) << table;
  EXPECT_NE(table.find("| teacher | full | 75.0% | 50.0% |"), std::string::npos) << table;
  EXPECT_NE(table.find("| teacher | block | 50.0% | - |"), std::string::npos) << table;
}

}  // namespace
}  // namespace blockattn
