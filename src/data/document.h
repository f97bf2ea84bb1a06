// One corpus document: clean UTF-8 text plus the structure it came with (chapters, sections,
// functions, entries) as byte offsets into that text. Serialised as one JSON object per line.
//
// The structure is the gold segmentation of the document, so it must point at text a reader
// sees: a heading's offset is where its title starts in `text`; markup is never in `text`.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace blockattn::data {

struct Section {
  size_t offset = 0;  // byte offset into Document::text where the unit starts
  int level = 1;      // 1 = outermost (chapter, top-level function, entry)
  std::string kind;   // chapter|section|subsection|function|class|entry|book|chapter|...
  std::string title;
  bool operator==(const Section& o) const {
    return offset == o.offset && level == o.level && kind == o.kind && title == o.title;
  }
};

struct Document {
  std::string id;              // "<source>/<path-or-name>#<n>"
  std::string source_package;  // Debian package the text came from
  std::string category;        // manual|man-page|dictionary|python|...
  std::string license;
  std::string title;
  std::string text;
  std::vector<Section> structure;  // sorted by offset
};

// One line of JSON (no trailing newline), keys in schema order. Text must be valid UTF-8.
std::string to_json_line(const Document& doc);
// Inverse of to_json_line. Throws FormatError on a malformed line.
Document from_json_line(std::string_view line);

// Accumulates text with lazy paragraph breaks and records structure at the right offsets, so
// extractors never compute offsets by hand. Inline text has its whitespace collapsed (as a
// browser or groff fills lines); verbatim text is copied as is.
class TextBuilder {
 public:
  // Ask for a line break (1) or a blank line (2) before the next text; breaks do not stack.
  void line_break() { request_break(1); }
  void paragraph() { request_break(2); }
  // Text in fill mode: whitespace runs become one space; no space at a line start.
  void inline_text(std::string_view s);
  // Text copied verbatim (code, <pre>, no-fill groff). Still honours pending breaks.
  void verbatim(std::string_view s);
  // A heading on its own paragraph, recorded as a section whose offset is its first byte.
  // Empty (after trimming) titles are ignored.
  void heading(int level, const std::string& kind, std::string_view title);
  // Records a unit that starts at the next text written (titles already part of the text).
  void mark(int level, const std::string& kind, const std::string& title);

  const std::string& text() const { return text_; }
  // Text with trailing whitespace removed, structure sorted and clipped to the text.
  Document finish(std::string title);

 private:
  void request_break(int n);
  void flush_pending();  // writes pending breaks and places pending marks

  std::string text_;
  std::vector<Section> structure_;
  std::vector<Section> pending_marks_;
  int pending_breaks_ = 0;
  bool pending_space_ = false;
};

// Cuts a document longer than `max_bytes` into parts at structure boundaries (preferring the
// outermost level in the second half of the window), else at a blank line, else a line end.
// Parts keep the metadata (the caller numbers their ids); titles get " (part k/N)". A document
// within the limit is returned unchanged.
std::vector<Document> split_document(const Document& doc, size_t max_bytes);

// Removes surrounding ASCII whitespace.
std::string_view trim(std::string_view s);

}  // namespace blockattn::data
