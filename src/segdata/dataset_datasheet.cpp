#include "segdata/dataset_datasheet.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include <nlohmann/json.hpp>

namespace blockattn::segment {
namespace {

const char* const kSplits[] = {"train", "validation", "test"};

std::string fixed1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

SegDataCategoryStats total_of(const std::map<std::string, SegDataCategoryStats>& by_category,
                              size_t nbuckets) {
  SegDataCategoryStats t;
  t.histogram.assign(nbuckets, 0);
  for (const auto& [cat, s] : by_category) {
    t.instances += s.instances;
    t.boundaries += s.boundaries;
    t.tokens += s.tokens;
    t.source_docs += s.source_docs;
    t.available_tokens += s.available_tokens;
    t.dropped_tokens += s.dropped_tokens;
    for (size_t i = 0; i < s.histogram.size() && i < nbuckets; ++i)
      t.histogram[i] += s.histogram[i];
  }
  return t;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> length_buckets(size_t min_tokens, size_t max_tokens) {
  std::vector<std::pair<size_t, size_t>> b;
  size_t lo = std::max<size_t>(1, min_tokens);
  do {
    const size_t hi = lo * 2 >= max_tokens ? max_tokens : lo * 2;
    b.emplace_back(lo, hi);
    lo = hi;
  } while (lo < max_tokens);
  return b;
}

std::string bucket_label(const std::pair<size_t, size_t>& b) {
  if (b.first % 1024 == 0 && b.second % 1024 == 0)
    return std::to_string(b.first / 1024) + "k-" + std::to_string(b.second / 1024) + "k";
  return std::to_string(b.first) + "-" + std::to_string(b.second);
}

void add_instance(SegDataCategoryStats& s, const SegInstance& inst,
                  const std::vector<std::pair<size_t, size_t>>& buckets) {
  s.histogram.resize(buckets.size(), 0);
  ++s.instances;
  s.boundaries += inst.boundaries.size();
  s.tokens += inst.tokens;
  for (size_t i = 0; i < buckets.size(); ++i)
    if (inst.tokens < buckets[i].second || i + 1 == buckets.size()) {
      ++s.histogram[i];
      break;
    }
}

std::string datasheet_markdown(const SegDataSheet& d) {
  std::ostringstream o;
  o << "# Segmentation dataset: datasheet\n\n";
  o << "- seed " << d.seed << ", instances of " << d.min_tokens << "-" << d.max_tokens
    << " tokens\n";
  o << "- token counts: " << d.counter << "\n";
  o << "- synthetic categories (conversation, multi-document) draw on "
    << fixed1(100 * d.synthetic_fraction) << "% of their split's passages\n";
  if (d.eval_min_fraction > 0)
    o << "- splits rebalanced: validation and test get at least "
      << fixed1(100 * d.eval_min_fraction) << "% of each category's bytes; " << d.moved_groups
      << " source files moved from train\n";
  else
    o << "- splits: the corpus's own (by source document)\n";
  o << "\n";
  for (const char* split : kSplits) {
    auto it = d.stats.find(split);
    if (it == d.stats.end()) continue;
    o << "## " << split << "\n\n";
    o << "| category | instances | boundaries | tokens | mean block tokens | source docs | text "
         "used |";
    for (const auto& b : d.buckets) o << " " << bucket_label(b) << " |";
    o << "\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |";
    for (size_t i = 0; i < d.buckets.size(); ++i) o << " ---: |";
    o << "\n";
    auto row = [&](const std::string& name, const SegDataCategoryStats& s) {
      o << "| " << name << " | " << s.instances << " | " << s.boundaries << " | " << s.tokens
        << " | " << fixed1(s.mean_block_tokens()) << " | " << s.source_docs << " | ";
      if (s.available_tokens)
        o << fixed1(100.0 * static_cast<double>(s.available_tokens - s.dropped_tokens) /
                    static_cast<double>(s.available_tokens))
          << "% |";
      else
        o << "- |";
      for (size_t i = 0; i < d.buckets.size(); ++i)
        o << " " << (i < s.histogram.size() ? s.histogram[i] : 0) << " |";
      o << "\n";
    };
    for (const std::string& cat : d.categories) {
      auto s = it->second.find(cat);
      row(cat, s == it->second.end() ? SegDataCategoryStats{} : s->second);
    }
    row("**total**", total_of(it->second, d.buckets.size()));
    o << "\n";
  }
  o << "## Gold blocks\n\n| category | a block is |\n| --- | --- |\n";
  for (const auto& [cat, unit] : d.category_units) o << "| " << cat << " | " << unit << " |\n";
  o << "\n\"text used\": share of the split's text in the category (its blocks counted alone) that "
       "is in some "
       "instance; the rest is blocks longer than the maximum alone and tails too short for an "
       "instance. "
       "Conversation and multi-document reuse passages of the other categories of the same "
       "split.\n";
  return o.str();
}

std::string datasheet_json(const SegDataSheet& d) {
  nlohmann::ordered_json j;
  j["seed"] = d.seed;
  j["min_tokens"] = d.min_tokens;
  j["max_tokens"] = d.max_tokens;
  j["counter"] = d.counter;
  j["synthetic_fraction"] = d.synthetic_fraction;
  j["eval_min_fraction"] = d.eval_min_fraction;
  j["moved_groups"] = d.moved_groups;
  nlohmann::ordered_json buckets = nlohmann::ordered_json::array();
  for (const auto& b : d.buckets)
    buckets.push_back({{"label", bucket_label(b)}, {"lo", b.first}, {"hi", b.second}});
  j["buckets"] = buckets;
  nlohmann::ordered_json units = nlohmann::ordered_json::object();
  for (const auto& [cat, unit] : d.category_units) units[cat] = unit;
  j["block_units"] = units;
  nlohmann::ordered_json splits = nlohmann::ordered_json::object();
  for (const char* split : kSplits) {
    auto it = d.stats.find(split);
    if (it == d.stats.end()) continue;
    nlohmann::ordered_json cats = nlohmann::ordered_json::object();
    auto put = [&](const SegDataCategoryStats& s) {
      nlohmann::ordered_json c;
      c["instances"] = s.instances;
      c["boundaries"] = s.boundaries;
      c["tokens"] = s.tokens;
      c["mean_block_tokens"] = s.mean_block_tokens();
      c["source_docs"] = s.source_docs;
      c["available_tokens"] = s.available_tokens;
      c["dropped_tokens"] = s.dropped_tokens;
      std::vector<size_t> h = s.histogram;
      h.resize(d.buckets.size(), 0);
      c["histogram"] = h;
      return c;
    };
    for (const std::string& cat : d.categories) {
      auto s = it->second.find(cat);
      cats[cat] = put(s == it->second.end() ? SegDataCategoryStats{} : s->second);
    }
    cats["total"] = put(total_of(it->second, d.buckets.size()));
    splits[split] = cats;
  }
  j["splits"] = splits;
  return j.dump(2) + "\n";
}

}  // namespace blockattn::segment
