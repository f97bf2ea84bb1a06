#include "segdata/dataset_builder.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <set>

#include "blockattn/error.h"
#include "core/io.h"
#include "core/parallel.h"
#include "data/synthetic_rng.h"
#include "segdata/dataset_blocks.h"
#include "segdata/dataset_conversation.h"
#include "segdata/dataset_corpus.h"
#include "segdata/dataset_counter.h"
#include "segdata/dataset_multidoc.h"
#include "segdata/dataset_topic.h"
#include "segdata/dataset_windows.h"

namespace blockattn::segment {
namespace {

namespace fs = std::filesystem;

const char* const kSplits[] = {"train", "validation", "test"};
const char* const kConversation = "conversation";
const char* const kMultiDocument = "multi-document";

// Categories whose sections make a readable question/answer topic.
bool conversation_source(const std::string& category) {
  for (const char* c :
       {"manual", "book", "api-reference", "tutorial", "faq", "glossary", "license"})
    if (category == c) return true;
  return false;
}

// Whether any split has instances of a built category (the topic ones need prose documents).
bool seen_topic(const SegDataSheet& sheet, const std::string& cat) {
  for (const auto& [split, by_cat] : sheet.stats)
    if (auto it = by_cat.find(cat); it != by_cat.end() && it->second.instances > 0) return true;
  return false;
}

uint64_t stream_seed(uint64_t seed, const std::string& split, const std::string& what) {
  return data::mix64(seed ^ data::label_hash(split + "/" + what));
}

DatasetCounter make_counter(const SegDataOptions& opt) {
  if (opt.count_tokens) return DatasetCounter::custom(opt.count_tokens, "caller-supplied counter");
  if (!opt.tokenizer_path.empty()) return DatasetCounter::from_tokenizer_file(opt.tokenizer_path);
  if (opt.approx_bytes_per_token > 0)
    return DatasetCounter::approximate(opt.approx_bytes_per_token);
  throw InputError(
      "segdata: no token counter: give a tokenizer file or an approximate bytes-per-token ratio");
}

void check_options(const SegDataOptions& opt) {
  if (opt.corpus_dir.empty()) throw InputError("segdata: no corpus directory given");
  if (opt.out_dir.empty()) throw InputError("segdata: no output directory given");
  if (opt.min_tokens == 0) throw InputError("segdata: min_tokens must be > 0");
  if (opt.min_tokens > opt.max_tokens)
    throw InputError("segdata: min_tokens (" + std::to_string(opt.min_tokens) +
                     ") is larger than max_tokens (" + std::to_string(opt.max_tokens) + ")");
  if (!(opt.synthetic_fraction >= 0 && opt.synthetic_fraction <= 1))
    throw InputError("segdata: synthetic_fraction must be in [0, 1]");
  if (!(opt.eval_min_fraction >= 0 && opt.eval_min_fraction < 0.5))
    throw InputError("segdata: eval_min_fraction must be in [0, 0.5)");
}

// Moves source files from train into validation/test until each holds `fraction` of the
// category's bytes. Files are taken in seeded-hash order; a file much larger than what is
// missing (a dictionary stored as one file of 160 parts) gives only its trailing parts
// (split_off_parts). Train keeps at least one file of each category. Returns the number of
// files (or file tails) moved.
size_t rebalance(std::map<std::string, std::vector<SourceDoc>>& docs, uint64_t seed,
                 double fraction) {
  std::map<std::string, std::map<std::string, size_t>> bytes;  // [category][split]
  for (const auto& [split, list] : docs)
    for (const SourceDoc& d : list) bytes[d.category][split] += d.text.size();
  size_t moved = 0;
  std::vector<SourceDoc>& train = docs["train"];
  for (auto& [category, by_split] : bytes) {
    size_t total = 0;
    for (const auto& [split, b] : by_split) total += b;
    for (const char* eval : {"validation", "test"}) {
      const double want = fraction * static_cast<double>(total);
      std::vector<std::pair<uint64_t, size_t>>
          order;  // (hash, index) of this category's train files
      for (size_t i = 0; i < train.size(); ++i)
        if (train[i].category == category)
          order.emplace_back(data::label_hash(std::to_string(seed) + ":" + train[i].group), i);
      std::sort(order.begin(), order.end());
      std::set<size_t> take;
      for (size_t n = 0; n < order.size() && static_cast<double>(by_split[eval]) < want; ++n) {
        SourceDoc& d = train[order[n].second];
        const double missing = want - static_cast<double>(by_split[eval]);
        const bool last = take.size() + 1 == order.size();
        if (!last &&
            (static_cast<double>(d.text.size()) <= 1.5 * missing || d.part_ids.size() < 2)) {
          take.insert(order[n].second);
          by_split[eval] += d.text.size();
          continue;
        }
        // Trailing parts covering what is missing: the fewest from the end that suffice.
        size_t k = d.part_ids.size() - 1;
        while (k > 1 && static_cast<double>(d.text.size() - d.part_offsets[k]) < missing) --k;
        SourceDoc tail;
        if (d.part_ids.size() < 2 || !split_off_parts(d, k, tail)) continue;
        by_split[eval] += tail.text.size();
        docs[eval].push_back(std::move(tail));
        ++moved;
      }
      std::vector<SourceDoc> keep;
      for (size_t i = 0; i < train.size(); ++i)
        (take.count(i) ? docs[eval] : keep).push_back(std::move(train[i]));
      train = std::move(keep);
      moved += take.size();
    }
  }
  return moved;
}

class SplitBuilder {
 public:
  SplitBuilder(const SegDataOptions& opt, const DatasetCounter& counter, SegDataSheet& sheet)
      : opt_(opt), counter_(counter), sheet_(sheet) {}

  std::vector<SegInstance> build(const std::string& split, const std::vector<SourceDoc>& docs) {
    split_ = split;
    std::vector<SegInstance> out;
    compute_blocks(docs);

    std::vector<std::string> categories;
    for (const BlockPolicy& p : corpus_policies()) categories.push_back(p.category);
    std::set<std::string> extra;
    for (const SourceDoc& d : docs)
      if (std::find(categories.begin(), categories.end(), d.category) == categories.end())
        extra.insert(d.category);
    categories.insert(categories.end(), extra.begin(), extra.end());

    // One task per category; tasks share nothing but the (thread-safe) counter and each has
    // its own random stream, so running them on several threads changes no byte of the output.
    struct Task {
      std::string category;
      size_t cost = 0;  // estimated tokens to count, to start the big ones first
      std::function<std::vector<SegInstance>(WindowStats&)> run;
      std::vector<SegInstance> result;
      WindowStats stats;
    };
    std::vector<Task> tasks;
    size_t split_tokens = 0, prose_tokens = 0;
    for (size_t i = 0; i < docs.size(); ++i)
      for (size_t t : tokens_[i]) {
        split_tokens += t;
        if (conversation_source(docs[i].category)) prose_tokens += t;
      }
    for (const std::string& cat : categories) {
      size_t cost = 0;
      for (size_t i = 0; i < docs.size(); ++i)
        if (docs[i].category == cat)
          for (size_t t : tokens_[i]) cost += t;
      if (cost == 0 && std::none_of(docs.begin(), docs.end(),
                                    [&](const SourceDoc& d) { return d.category == cat; }))
        continue;
      tasks.push_back({cat,
                       cost,
                       [this, &docs, cat, split](WindowStats& ws) {
                         std::vector<InstancePiece> pieces;
                         for (size_t i = 0; i < docs.size(); ++i) {
                           if (docs[i].category != cat) continue;
                           const std::vector<GoldBlock>& blocks = blocks_[i];
                           for (size_t k = 0; k < blocks.size(); ++k) {
                             InstancePiece p;
                             p.text = docs[i].text.substr(blocks[k].begin,
                                                          blocks[k].end - blocks[k].begin);
                             p.tokens = tokens_[i][k];
                             p.contiguous = k > 0;
                             p.sources = docs[i].ids_in(blocks[k].begin, blocks[k].end);
                             pieces.push_back(std::move(p));
                           }
                         }
                         data::SynthRng rng(stream_seed(opt_.seed, split, cat));
                         return assemble_windows(std::move(pieces), counter_, opt_.min_tokens,
                                                 opt_.max_tokens, rng, ws);
                       },
                       {},
                       {}});
    }
    const auto fraction_of = [&](size_t tokens) {
      return static_cast<size_t>(opt_.synthetic_fraction * static_cast<double>(tokens)) *
             2;  // pieces + instances
    };
    tasks.push_back({kConversation,
                     fraction_of(prose_tokens),
                     [this, &docs, split](WindowStats& ws) {
                       std::vector<ChatPassage> pool;
                       for (size_t i = 0; i < docs.size(); ++i) {
                         if (!conversation_source(docs[i].category)) continue;
                         for (size_t k = 0; k < blocks_[i].size(); ++k) {
                           const GoldBlock& b = blocks_[i][k];
                           ChatPassage p;
                           if (b.title.empty() ||
                               !make_passage(docs[i].text.substr(b.begin, b.end - b.begin), b.title,
                                             docs[i].title, p))
                             continue;
                           p.doc = i;
                           p.block = k;
                           p.sources = docs[i].ids_in(b.begin, b.end);
                           pool.push_back(std::move(p));
                         }
                       }
                       return build_conversations(pool, counter_, opt_.min_tokens, opt_.max_tokens,
                                                  stream_seed(opt_.seed, split, kConversation),
                                                  opt_.synthetic_fraction, ws);
                     },
                     {},
                     {}});
    tasks.push_back({kMultiDocument,
                     fraction_of(split_tokens),
                     [this, &docs, split](WindowStats& ws) {
                       std::vector<RagItem> items;
                       data::SynthRng rng(
                           stream_seed(opt_.seed, split, std::string(kMultiDocument) + "/items"));
                       for (size_t i = 0; i < docs.size(); ++i) {
                         // RAG chunks: about a tenth of the minimum instance length up to the
                         // minimum.
                         auto its = document_items(docs[i], blocks_[i], tokens_[i],
                                                   std::max<size_t>(16, opt_.min_tokens / 10),
                                                   opt_.min_tokens, rng);
                         std::move(its.begin(), its.end(), std::back_inserter(items));
                       }
                       return build_multidoc(std::move(items), counter_, opt_.min_tokens,
                                             opt_.max_tokens,
                                             stream_seed(opt_.seed, split, kMultiDocument),
                                             opt_.synthetic_fraction, ws);
                     },
                     {},
                     {}});

    size_t topic_tokens = 0;
    for (size_t i = 0; i < docs.size(); ++i)
      if (topic_source(docs[i].category))
        for (size_t t : tokens_[i]) topic_tokens += t;
    for (TopicLayout layout : topic_layouts()) {
      const std::string cat = topic_category(layout);
      tasks.push_back({cat,
                       fraction_of(topic_tokens),
                       [this, &docs, split, layout, cat](WindowStats& ws) {
                         return build_topic(docs, split, layout, cat, ws);
                       },
                       {},
                       {}});
    }

    std::vector<size_t> order(tasks.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return tasks[a].cost > tasks[b].cost; });
    std::atomic<size_t> next{0};
    std::mutex progress_mutex;
    run_workers(std::max(1u, opt_.threads), [&](size_t) {
      for (size_t k; (k = next.fetch_add(1)) < order.size();) {
        Task& t = tasks[order[k]];
        t.result = t.run(t.stats);
        if (opt_.progress) {
          size_t b = 0, n = 0;
          for (const SegInstance& s : t.result) {
            b += s.boundaries.size();
            n += s.tokens;
          }
          std::lock_guard<std::mutex> lock(progress_mutex);
          opt_.progress("segdata: " + split + "/" + t.category + ": " +
                        std::to_string(t.result.size()) + " instances, " + std::to_string(b) +
                        " boundaries, " + std::to_string(n) + " tokens");
        }
      }
    });
    for (Task& t : tasks) finish_category(t.category, std::move(t.result), t.stats, out);
    return out;
  }

 private:
  // Topic-only instances of one layout (dataset_topic.h) from the prose documents of the split.
  std::vector<SegInstance> build_topic(const std::vector<SourceDoc>& docs, const std::string& split,
                                       TopicLayout layout, const std::string& cat,
                                       WindowStats& ws) {
    std::vector<RagItem> items;
    data::SynthRng rng(stream_seed(opt_.seed, split, cat + "/items"));
    for (const SourceDoc& d : docs) {
      if (!topic_source(d.category)) continue;
      auto its = topic_items(prose_sentences(d.text), d.source_package, d.ids_in(0, d.text.size()),
                             layout, rng);
      std::move(its.begin(), its.end(), std::back_inserter(items));
    }
    std::vector<std::string_view> texts;
    for (const RagItem& it : items) texts.push_back(it.piece.text);
    const std::vector<size_t> counts = counter_.count_many(texts, 1);
    for (size_t i = 0; i < items.size(); ++i) items[i].piece.tokens = counts[i];
    return build_multidoc(std::move(items), counter_, opt_.min_tokens, opt_.max_tokens,
                          stream_seed(opt_.seed, split, cat), opt_.synthetic_fraction, ws);
  }

  void compute_blocks(const std::vector<SourceDoc>& docs) {
    blocks_.assign(docs.size(), {});
    tokens_.assign(docs.size(), {});
    std::vector<std::string_view> texts;
    for (size_t i = 0; i < docs.size(); ++i) {
      blocks_[i] = document_blocks(docs[i], policy_for(docs[i].category));
      for (const GoldBlock& b : blocks_[i])
        texts.push_back(std::string_view(docs[i].text).substr(b.begin, b.end - b.begin));
    }
    if (opt_.progress)
      opt_.progress("segdata: " + split_ + ": counting tokens of " + std::to_string(texts.size()) +
                    " blocks");
    const std::vector<size_t> counts = counter_.count_many(texts, opt_.threads);
    size_t n = 0;
    for (size_t i = 0; i < docs.size(); ++i)
      for (size_t k = 0; k < blocks_[i].size(); ++k) tokens_[i].push_back(counts[n++]);
  }

  void finish_category(const std::string& cat, std::vector<SegInstance> insts,
                       const WindowStats& ws, std::vector<SegInstance>& out) {
    size_t cap = opt_.max_instances_per_category;
    if (auto it = opt_.category_caps.find(cat); it != opt_.category_caps.end()) cap = it->second;
    size_t dropped_by_cap = 0;
    if (cap > 0 && insts.size() > cap) {
      // A seeded random subset, kept in text order.
      data::SynthRng rng(stream_seed(opt_.seed, split_, cat + "/cap"));
      std::vector<size_t> idx(insts.size());
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      for (size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
      idx.resize(cap);
      std::sort(idx.begin(), idx.end());
      std::vector<SegInstance> kept;
      for (const SegInstance& s : insts) dropped_by_cap += s.tokens;
      for (size_t i : idx) {
        dropped_by_cap -= insts[i].tokens;
        kept.push_back(std::move(insts[i]));
      }
      insts = std::move(kept);
    }
    SegDataCategoryStats& st = sheet_.stats[split_][cat];
    st.histogram.assign(sheet_.buckets.size(), 0);
    st.available_tokens = ws.available_tokens;
    st.dropped_tokens = std::min(ws.available_tokens, ws.dropped_tokens + dropped_by_cap);
    std::set<std::string> sources;
    for (size_t n = 0; n < insts.size(); ++n) {
      SegInstance& s = insts[n];
      char num[32];
      std::snprintf(num, sizeof num, "%05zu", n);
      s.id = split_ + "/" + cat + "/" + num;
      s.category = cat;
      s.split = split_;
      check_instance(s);
      add_instance(st, s, sheet_.buckets);
      sources.insert(s.sources.begin(), s.sources.end());
      out.push_back(std::move(s));
    }
    st.source_docs = sources.size();
    if (opt_.progress && dropped_by_cap > 0)
      opt_.progress("segdata: " + split_ + "/" + cat + ": kept " + std::to_string(st.instances) +
                    " instances (cap)");
  }

  const SegDataOptions& opt_;
  const DatasetCounter& counter_;
  SegDataSheet& sheet_;
  std::string split_;
  std::vector<std::vector<GoldBlock>> blocks_;
  std::vector<std::vector<size_t>> tokens_;
};

}  // namespace

SegDataReport build_segdata(const SegDataOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  check_options(opt);
  if (!is_directory(opt.corpus_dir))
    throw InputError("segdata: corpus directory '" + opt.corpus_dir + "' does not exist");
  std::vector<std::string> missing;
  for (const char* split : kSplits)
    if (!file_exists(opt.corpus_dir + "/" + split + ".jsonl"))
      missing.push_back(std::string(split) + ".jsonl");
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    throw InputError("segdata: corpus directory '" + opt.corpus_dir + "' has no " + list +
                     " (expected the output of `blockattn corpus build`)");
  }
  const DatasetCounter counter = make_counter(opt);

  std::map<std::string, std::vector<SourceDoc>> docs;
  size_t total_docs = 0;
  for (const char* split : kSplits) {
    docs[split] = read_split_file(opt.corpus_dir + "/" + split + ".jsonl");
    total_docs += docs[split].size();
    if (opt.progress)
      opt.progress("segdata: read " + std::string(split) +
                   ".jsonl: " + std::to_string(docs[split].size()) + " source documents");
  }
  if (total_docs == 0)
    throw InputError("segdata: corpus directory '" + opt.corpus_dir + "' has no documents");

  SegDataReport report;
  SegDataSheet& sheet = report.datasheet;
  sheet.seed = opt.seed;
  sheet.min_tokens = opt.min_tokens;
  sheet.max_tokens = opt.max_tokens;
  sheet.counter = counter.description();
  sheet.synthetic_fraction = opt.synthetic_fraction;
  sheet.eval_min_fraction = opt.eval_min_fraction;
  sheet.buckets = length_buckets(opt.min_tokens, opt.max_tokens);
  if (opt.eval_min_fraction > 0) {
    sheet.moved_groups = rebalance(docs, opt.seed, opt.eval_min_fraction);
    if (opt.progress)
      opt.progress("segdata: rebalanced splits: " + std::to_string(sheet.moved_groups) +
                   " source files moved from train");
  }

  std::map<std::string, std::vector<SegInstance>> out;
  for (const char* split : kSplits) {
    SplitBuilder b(opt, counter, sheet);
    out[split] = b.build(split, docs[split]);
    docs[split].clear();
    docs[split].shrink_to_fit();
    for (const SegInstance& s : out[split]) {
      ++report.instances;
      report.boundaries += s.boundaries.size();
      report.tokens += s.tokens;
    }
  }
  if (report.instances == 0)
    throw InputError("segdata: no instance could be built from '" + opt.corpus_dir +
                     "': no run of blocks reaches " + std::to_string(opt.min_tokens) +
                     " tokens without passing " + std::to_string(opt.max_tokens));

  // Datasheet rows: the corpus categories that produced anything, then the built ones.
  std::set<std::string> seen;
  for (const auto& [split, by_cat] : sheet.stats)
    for (const auto& [cat, s] : by_cat)
      if (s.instances > 0 || s.available_tokens > 0) seen.insert(cat);
  for (const BlockPolicy& p : corpus_policies())
    if (seen.count(p.category)) {
      sheet.categories.push_back(p.category);
      sheet.category_units.emplace_back(p.category, p.unit);
      seen.erase(p.category);
    }
  seen.erase(kConversation);
  seen.erase(kMultiDocument);
  for (TopicLayout layout : topic_layouts()) seen.erase(topic_category(layout));
  for (const std::string& cat : seen) {
    sheet.categories.push_back(cat);
    sheet.category_units.emplace_back(cat, policy_for(cat).unit);
  }
  sheet.categories.push_back(kConversation);
  sheet.category_units.emplace_back(
      kConversation,
      "a session (from its header) or a topic within a session (from the user turn "
      "that opens it)");
  sheet.categories.push_back(kMultiDocument);
  sheet.category_units.emplace_back(
      kMultiDocument, "one document or excerpt (min_tokens/10 to min_tokens long, any category)");
  for (TopicLayout layout : topic_layouts()) {
    const std::string cat = topic_category(layout);
    if (!seen_topic(sheet, cat)) continue;
    sheet.categories.push_back(cat);
    sheet.category_units.emplace_back(
        cat, layout == TopicLayout::kLines
                 ? "an excerpt of 3-40 prose sentences, one sentence per line, no formatting"
             : layout == TopicLayout::kRunOn
                 ? "an excerpt of 3-40 prose sentences in run-on paragraphs (one per line)"
                 : "an excerpt of 3-40 prose sentences in paragraphs separated by blank lines");
  }

  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  if (ec) throw IoError("segdata: cannot create '" + opt.out_dir + "': " + ec.message());
  for (const char* split : kSplits) {
    std::string data;
    for (const SegInstance& s : out[split]) data += to_json_line(s) + "\n";
    const std::string path = opt.out_dir + "/" + split + ".jsonl";
    write_file_atomic(path, data);
    report.files.push_back(path);
    out[split].clear();
  }
  const std::string md = opt.out_dir + "/datasheet.md", js = opt.out_dir + "/datasheet.json";
  write_file_atomic(md, datasheet_markdown(sheet));
  write_file_atomic(js, datasheet_json(sheet));
  report.files.push_back(md);
  report.files.push_back(js);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (opt.progress)
    opt.progress("segdata: " + std::to_string(report.instances) + " instances, " +
                 std::to_string(report.boundaries) + " boundaries written to " + opt.out_dir);
  return report;
}

}  // namespace blockattn::segment
