// Synthetic multi-session conversations. A user asks about a topic (a section title of a
// corpus passage), the assistant answers with the passage's paragraphs over one to three turns,
// then the user moves to another topic. Gold blocks: each session (from its header
// "Session 3 — 2024-05-02") and, inside a session, each topic from the user turn that opens it.
// Follow-up turns stay inside their topic's block, so the segmenter has to tell a new question
// from "Go on." — about a third of the shifts go to the next section of the same document,
// which is the hard, realistic case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "segdata/dataset_instance.h"
#include "segdata/dataset_windows.h"

namespace blockattn::segment {

struct ChatPassage {
  std::string topic;                    // the section title without its numbering
  std::vector<std::string> paragraphs;  // the section body after its heading line
  std::vector<std::string> sources;
  size_t doc = 0, block = 0;  // for "next section of the same document"
};

// The passage of a block whose text opens with its title on a line of its own, or nothing
// (no usable title, an empty body, a body over `max_body_bytes`). `doc_title` names the topic
// when the section title alone says nothing ("SYNOPSIS" -> "Synopsis of git-push(1)").
bool make_passage(const std::string& block_text, const std::string& title,
                  const std::string& doc_title, ChatPassage& out, size_t max_body_bytes = 8000);

// "9.1.2. The screen program" -> "The screen program"; "Chapter 9. System tips" -> "System tips";
// a generic or all-capitals title gets the document's title: "SEE ALSO" -> "See also of ls(1)".
std::string topic_of(const std::string& title, const std::string& doc_title = "");

// Conversations over `pool` (each passage used at most once); `fraction` of the pool, chosen
// by `seed`, is used. Instances come back without id, category and split.
std::vector<SegInstance> build_conversations(const std::vector<ChatPassage>& pool,
                                             const DatasetCounter& counter, size_t min_tokens,
                                             size_t max_tokens, uint64_t seed, double fraction,
                                             WindowStats& stats);

}  // namespace blockattn::segment
