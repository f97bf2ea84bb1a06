#include "segment_html.h"

#include <cstdio>

namespace blockattn::cli {

namespace {

void append_escaped(std::string& out, const std::string& text, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    switch (text[i]) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += text[i];
    }
  }
}

std::string fmt(const char* f, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

std::string segmentation_html(const std::string& text, const segment::Segmentation& seg,
                              const std::string& title) {
  std::string out =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>blockattn segment</title><style>"
      "body{font:14px/1.4 sans-serif;margin:2em}"
      ".b{white-space:pre-wrap;font:13px/1.35 monospace;padding:.4em .6em;margin:0;border-left:4px "
      "solid #888}"
      ".b0{background:#eef5ff}.b1{background:#fff6e6}"
      ".h{font:11px sans-serif;color:#555;margin-top:.6em}"
      ".c{display:inline-block;width:.55em;height:1em;vertical-align:middle;border-radius:2px;"
      "cursor:help}"
      "</style></head><body><h1>";
  append_escaped(out, title, 0, title.size());
  out += "</h1><p>" + std::to_string(seg.blocks.size()) + " blocks, " +
         std::to_string(seg.candidates.size()) +
         " candidate cuts. Markers show each candidate's score (darker red = more likely a "
         "boundary; hover for the "
         "value).</p>";
  size_t next_candidate = 0;
  for (size_t bi = 0; bi < seg.blocks.size(); ++bi) {
    const segment::Block& b = seg.blocks[bi];
    out += "<div class=\"h\">block " + std::to_string(bi + 1) + " &middot; bytes " +
           std::to_string(b.begin) + "&ndash;" + std::to_string(b.end) + " &middot; " +
           std::to_string(b.tokens) + " tokens &middot; cut " + segment::cut_type_name(b.cut) +
           " &middot; score " + fmt("%.3f", b.score) + "</div><pre class=\"b b" +
           std::to_string(bi % 2) + "\">";
    size_t at = b.begin;
    while (next_candidate < seg.candidates.size() &&
           seg.candidates[next_candidate].offset < b.end) {
      const segment::Candidate& c = seg.candidates[next_candidate];
      if (c.offset > b.begin) {
        append_escaped(out, text, at, c.offset);
        at = c.offset;
        const double s = next_candidate < seg.scores.size() ? seg.scores[next_candidate] : 0.0;
        const int shade = static_cast<int>(255 - 200 * std::min(1.0, std::max(0.0, s)));
        out += "<span class=\"c\" style=\"background:rgb(255," + std::to_string(shade) + "," +
               std::to_string(shade) + ")\" title=\"" + segment::cut_type_name(c.type) + " " +
               fmt("%.3f", s) + "\"></span>";
      }
      ++next_candidate;
    }
    append_escaped(out, text, at, b.end);
    out += "</pre>";
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace blockattn::cli
