// Topic-only instances: excerpts of prose from different source documents, with every formatting
// cue that would give a join away removed, so that only the change of subject marks a boundary
// (issue 12). The prose of a document is reduced to its sentences (headings, code, lists, tables
// and indented text dropped; line breaks inside a paragraph become spaces), an excerpt is a run
// of 3..40 consecutive sentences (log-uniform), and excerpts are laid out one of three ways:
//
//   topic-lines       one sentence per line, no blank line anywhere
//   topic-runon       run-on paragraphs of 4..12 sentences, one per line, no blank line
//   topic-paragraphs  paragraphs of 2..6 sentences separated by blank lines
//
// Inside an excerpt and at a join the separator is the same ("\n", "\n", "\n\n"), and every line
// starts a sentence and ends with its punctuation. Neighbours come from different packages, as
// in multi-document (which assembles them).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "data/synthetic_rng.h"
#include "segdata/dataset_multidoc.h"

namespace blockattn::segment {

enum class TopicLayout { kLines, kRunOn, kParagraphs };

// "topic-lines", "topic-runon", "topic-paragraphs".
const char* topic_category(TopicLayout layout);
// All three, in datasheet order.
const std::vector<TopicLayout>& topic_layouts();
// Whether the corpus category has prose to draw on (manual, book, tutorial, faq, license,
// man-page, api-reference).
bool topic_source(const std::string& category);

// The prose sentences of a text, in order: paragraphs (blank-line separated) that look like
// running text — no indented line, first character a letter, digit or quote, at least 70% of
// the visible characters letters or spaces, at least 6 words, ending in . ! ? : or a closing
// quote or bracket — joined into one line each and split after . ! ? followed by a space and an
// uppercase letter (not after a one-letter word or e.g./i.e./etc.). Sentences of fewer than 4
// words are left out.
std::vector<std::string> prose_sentences(std::string_view text);

// One document's sentences cut into excerpts and laid out: the pieces of build_multidoc, with
// `separator` set so that joins look like the inside. `tokens` is left 0 (the caller counts).
std::vector<RagItem> topic_items(const std::vector<std::string>& sentences,
                                 const std::string& package,
                                 const std::vector<std::string>& sources, TopicLayout layout,
                                 data::SynthRng& rng);

// The separator between sentences of one paragraph is a space; between paragraphs (and at a
// join) this.
const char* topic_separator(TopicLayout layout);

}  // namespace blockattn::segment
