#include "segdata/dataset_conversation.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "data/synthetic_rng.h"

namespace blockattn::segment {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string trim_copy(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

const char* const kOpeners[] = {
    "Can you explain {}?",
    "What should I know about {}?",
    "Tell me about {}.",
    "Next topic: {}. What does it cover?",
    "I have a question about {}.",
    "How does {} work?",
    "Could you summarise {} for me?",
    "Let's switch to {}. What is it about?",
};
const char* const kFollowUps[] = {
    "Go on.",
    "Can you tell me more?",
    "What else?",
    "And then?",
    "Please continue.",
    "Anything else I should know?",
    "OK, and after that?",
    "Interesting. More, please.",
};
const char* const kTopicalFollowUps[] = {"What else about {}?", "Tell me more about {}.",
                                         "Is there more on {}?"};

std::string fill(const char* tmpl, const std::string& topic) {
  std::string s = tmpl;
  const size_t p = s.find("{}");
  if (p != std::string::npos) s.replace(p, 2, topic);
  return s;
}

// "The screen program" reads better mid-sentence as "the screen program"; "SQL basics" and
// "Makefile" style names keep their capitals.
std::string in_sentence(const std::string& topic) {
  if (topic.size() >= 2 && is_upper(topic[0]) && is_lower(topic[1])) {
    const size_t sp = topic.find(' ');
    const std::string first = topic.substr(0, sp);
    for (const char* w : {"The", "A", "An", "Using", "How", "What", "Why", "When", "Where", "Other",
                          "Some", "More"})
      if (first == w) return static_cast<char>(topic[0] - 'A' + 'a') + topic.substr(1);
  }
  return topic;
}

template <size_t N>
const char* pick(const char* const (&arr)[N], data::SynthRng& rng) {
  return arr[rng.below(N)];
}

// Days since 1970-01-01 -> "YYYY-MM-DD" (Howard Hinnant's civil_from_days).
std::string iso_date(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d));
  return buf;
}

// The user/assistant turns of one topic: the opener names the topic, follow-ups mostly do not.
std::string topic_turns(const ChatPassage& p, data::SynthRng& rng) {
  const std::string topic = in_sentence(p.topic);
  std::string s = "User: " + fill(pick(kOpeners, rng), topic) + "\n\nAssistant: ";
  const size_t turns = 1 + rng.below(3);
  size_t next = 0;
  for (size_t turn = 0; turn < turns && next < p.paragraphs.size(); ++turn) {
    if (turn > 0) {
      const char* q = rng.below(4) == 0 ? pick(kTopicalFollowUps, rng) : pick(kFollowUps, rng);
      s += "\n\nUser: " + fill(q, topic) + "\n\nAssistant: ";
    }
    const size_t take = turn + 1 == turns ? p.paragraphs.size() - next : 1 + rng.below(3);
    for (size_t i = 0; i < take && next < p.paragraphs.size(); ++i, ++next) {
      if (i > 0) s += "\n\n";
      s += p.paragraphs[next];
    }
  }
  return s;
}

}  // namespace

std::string topic_of(const std::string& title, const std::string& doc_title) {
  std::string t = trim_copy(title);
  for (const char* prefix : {"Chapter ", "Appendix ", "Part "}) {
    const std::string pre = prefix;
    if (t.compare(0, pre.size(), pre) == 0) {
      const size_t dot = t.find(". ");
      if (dot != std::string::npos && dot < pre.size() + 8) t = t.substr(dot + 2);
      break;
    }
  }
  // Leading section numbers: "9.1.2. ", "1. ", "A.1 ".
  size_t i = 0;
  while (i < t.size() &&
         (is_digit(t[i]) || t[i] == '.' || (is_upper(t[i]) && i + 1 < t.size() && t[i + 1] == '.')))
    ++i;
  if (i > 0 && i < t.size() && t[i] == ' ') t = t.substr(i + 1);
  t = trim_copy(t);
  // "SEE ALSO" -> "See also": capitals read as shouting in a question.
  bool caps = false, lowers = false;
  for (char c : t) {
    caps |= is_upper(c);
    lowers |= is_lower(c);
  }
  if (caps && !lowers && t.size() > 3)
    for (size_t k = 1; k < t.size(); ++k)
      if (is_upper(t[k])) t[k] = static_cast<char>(t[k] - 'A' + 'a');
  static const char* const kGeneric[] = {
      "Name",          "Synopsis",      "Description", "Examples",      "Example",
      "Notes",         "Note",          "See also",    "Errata",        "Overview",
      "Introduction",  "Options",       "Parameters",  "Return value",  "Arguments",
      "Author",        "Authors",       "Bugs",        "Files",         "Environment",
      "History",       "Compatibility", "Security",    "Configuration", "Usage",
      "Summary",       "Discussion",    "Exit status", "Errors",        "Versions",
      "Conforming to", "Standards",     "Attributes",  "Caveats",       "Version"};
  const std::string doc = trim_copy(doc_title);
  if (!doc.empty() && doc != t)
    for (const char* g : kGeneric)
      if (t == g) return t + " of " + doc;
  return t;
}

bool make_passage(const std::string& block_text, const std::string& title,
                  const std::string& doc_title, ChatPassage& out, size_t max_body_bytes) {
  const std::string text = trim_copy(block_text);
  const size_t nl = text.find('\n');
  if (nl == std::string::npos ||
      trim_copy(std::string_view(text).substr(0, nl)) != trim_copy(title))
    return false;
  const std::string topic = topic_of(title, doc_title);
  bool letters = false;
  for (char c : topic) letters |= is_upper(c) || is_lower(c);
  if (!letters || topic.size() < 3 || topic.size() > 100) return false;
  const std::string body = trim_copy(std::string_view(text).substr(nl + 1));
  if (body.size() < 80 || body.size() > max_body_bytes) return false;
  out.topic = topic;
  out.paragraphs.clear();
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string para = body.substr(pos, end - pos);
    while (!para.empty() && is_space(para.back())) para.pop_back();
    while (!para.empty() && para.front() == '\n') para.erase(0, 1);
    if (!trim_copy(para).empty()) out.paragraphs.push_back(std::move(para));
    pos = end + 2;
  }
  return !out.paragraphs.empty();
}

std::vector<SegInstance> build_conversations(const std::vector<ChatPassage>& pool,
                                             const DatasetCounter& counter, size_t min_tokens,
                                             size_t max_tokens, uint64_t seed, double fraction,
                                             WindowStats& stats) {
  data::SynthRng rng(seed);
  // A shuffled `fraction` of the pool, in that order.
  std::vector<size_t> order(pool.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  order.resize(static_cast<size_t>(
      std::ceil(std::min(1.0, std::max(0.0, fraction)) * static_cast<double>(order.size()))));
  std::vector<char> available(pool.size(), 0);
  for (size_t i : order) available[i] = 1;
  std::map<std::pair<size_t, size_t>, size_t> by_position;
  for (size_t i = 0; i < pool.size(); ++i) by_position[{pool[i].doc, pool[i].block}] = i;

  size_t cursor = 0;
  auto next_passage = [&](const ChatPassage* prev) -> const ChatPassage* {
    if (prev && rng.below(3) == 0) {
      auto it = by_position.find({prev->doc, prev->block + 1});
      if (it != by_position.end() && available[it->second]) {
        available[it->second] = 0;
        return &pool[it->second];
      }
    }
    while (cursor < order.size() && !available[order[cursor]]) ++cursor;
    if (cursor == order.size()) return nullptr;
    available[order[cursor]] = 0;
    return &pool[order[cursor++]];
  };

  std::vector<SegInstance> out;
  for (;;) {
    const size_t target = draw_target(rng, min_tokens, max_tokens);
    std::vector<InstancePiece> pieces;
    size_t est = 0;
    int64_t day = 19358 + static_cast<int64_t>(rng.below(700));  // from 2023-01-01
    const ChatPassage* prev = nullptr;
    bool exhausted = false;
    for (int session = 1; est < target && !exhausted; ++session) {
      if (session > 1) day += 1 + static_cast<int64_t>(rng.below(30));
      const std::string header =
          "Session " + std::to_string(session) + " \u2014 " + iso_date(day) + "\n\n";
      const size_t topics = 2 + rng.below(4);
      for (size_t t = 0; t < topics && est < target; ++t) {
        const ChatPassage* p = next_passage(t > 0 ? prev : nullptr);
        if (!p) {
          exhausted = true;
          break;
        }
        prev = p;
        InstancePiece piece;
        piece.text = (t == 0 ? header : std::string()) + topic_turns(*p, rng);
        piece.tokens = counter.count(piece.text);
        piece.sources = p->sources;
        stats.available_tokens += piece.tokens;
        est += piece.tokens;
        pieces.push_back(std::move(piece));
      }
    }
    if (pieces.empty()) break;
    SegInstance inst;
    std::vector<InstancePiece> cut;
    const PieceFit fit = finalize_instance(pieces, counter, min_tokens, max_tokens, inst, &cut);
    if (fit == PieceFit::kOk)
      out.push_back(std::move(inst));
    else
      cut.insert(cut.end(), pieces.begin(), pieces.end());
    for (const InstancePiece& p : cut) {
      ++stats.dropped_pieces;
      stats.dropped_tokens += p.tokens;
    }
    if (exhausted) break;
  }
  return out;
}

}  // namespace blockattn::segment
