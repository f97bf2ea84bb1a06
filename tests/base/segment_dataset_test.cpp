// The segmentation dataset builder on a small corpus written by the test: gold boundaries are
// valid offsets at the documents' section starts, lengths stay in range, splits never share a
// source document, two builds are byte-identical, conversations and multi-document instances
// cut at their joins, and bad input fails with one clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "data/document.h"
#include "expect_error.h"
#include "segdata/dataset_blocks.h"
#include "segdata/dataset_builder.h"
#include "segdata/dataset_conversation.h"
#include "segdata/dataset_corpus.h"
#include "segdata/dataset_instance.h"
#include "test_util.h"

namespace blockattn::segment {
namespace {

using data::Document;
using data::Section;

// Deterministic filler prose: words from a small vocabulary chosen by an LCG.
std::string prose(uint64_t& state, size_t words) {
  static const char* const kWords[] = {"the",  "system", "reads",  "each",   "value", "from",
                                       "a",    "buffer", "and",    "writes", "it",    "to",
                                       "disk", "when",   "ready",  "while",  "users", "wait",
                                       "for",  "result", "quickly"};
  std::string s;
  for (size_t i = 0; i < words; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    if (i) s += (i % 14 == 0) ? ". " : " ";
    s += kWords[(state >> 33) % (sizeof kWords / sizeof *kWords)];
  }
  return s + ".";
}

// A document whose sections are "<title>\n\n<paragraphs>" with offsets at the titles; levels
// cycle 1, 2, 3 so level 3 must not become a boundary in prose categories.
Document prose_doc(const std::string& id, const std::string& category, const std::string& package,
                   int sections, uint64_t seed) {
  Document d;
  d.id = id;
  d.source_package = package;
  d.category = category;
  d.license = "test";
  d.title = id;
  uint64_t st = seed;
  for (int s = 0; s < sections; ++s) {
    const int level = 1 + s % 3;
    const std::string title =
        "Heading " + id.substr(0, id.find('#')) + " part " + std::to_string(s);
    d.structure.push_back({d.text.size(), level, level == 1 ? "chapter" : "section", title});
    d.text += title + "\n\n" + prose(st, 40) + "\n\n" + prose(st, 30) + "\n\n";
  }
  while (!d.text.empty() && d.text.back() == '\n') d.text.pop_back();
  return d;
}

// Go source: a doc comment above every function; the offset points at `func` as the corpus does.
Document go_doc(const std::string& id, int funcs, uint64_t seed) {
  Document d;
  d.id = id;
  d.source_package = "golang-src";
  d.category = "go";
  d.license = "BSD";
  d.title = id;
  d.text = "package demo\n\nimport \"fmt\"\n\n";
  uint64_t st = seed;
  for (int f = 0; f < funcs; ++f) {
    const std::string name = "Func" + std::to_string(f);
    d.text += "// " + name + " " + prose(st, 12) + "\n// It returns nothing.\n";
    d.structure.push_back({d.text.size(), 1, "function", name});
    d.text += "func " + name + "() {\n\tfmt.Println(\"" + prose(st, 20) + "\")\n}\n\n";
  }
  d.text.pop_back();
  return d;
}

Document dict_doc(const std::string& id, int entries, uint64_t seed) {
  Document d;
  d.id = id;
  d.source_package = "dict-gcide";
  d.category = "dictionary";
  d.license = "GPL";
  d.title = id;
  uint64_t st = seed;
  for (int e = 0; e < entries; ++e) {
    // Every third headword repeats the previous one: one block for both.
    const std::string word = "word" + std::to_string(e - (e % 3 == 2 ? 1 : 0)) + "x";
    d.structure.push_back({d.text.size(), 1, "entry", word});
    d.text += word + " \\" + word + "\\ n.\n   " + prose(st, 25) + "\n\n";
  }
  while (d.text.back() == '\n') d.text.pop_back();
  return d;
}

void write_split(const std::string& dir, const std::string& split,
                 const std::vector<Document>& docs) {
  std::string s;
  for (const Document& d : docs) s += data::to_json_line(d) + "\n";
  write_file_atomic(dir + "/" + split + ".jsonl", s);
}

// The fixture corpus: manuals from several packages, Go files, a dictionary, in all splits;
// one long manual is cut into two parts (#0, #1) as `corpus build` does.
std::map<std::string, std::vector<Document>> fixture_corpus() {
  std::map<std::string, std::vector<Document>> c;
  uint64_t seed = 1;
  for (const char* split : {"train", "validation", "test"}) {
    const int n = std::string(split) == "train" ? 8 : 3;
    for (int i = 0; i < n; ++i) {
      const std::string tag = std::string(split) + std::to_string(i);
      c[split].push_back(
          prose_doc("pg-doc/" + tag + "#0", "manual", "postgresql-doc", 6 + i % 3, seed++));
      c[split].push_back(prose_doc("perl-doc/" + tag + "#0", "manual", "perl-doc", 5, seed++));
      c[split].push_back(go_doc("golang-src/" + tag + ".go#0", 8, seed++));
    }
    c[split].push_back(dict_doc("dict-gcide/" + std::string(split) + "#0", 60, seed++));
  }
  // Two parts of one file: the second starts mid-section (continuation text first).
  Document whole = prose_doc("pg-doc/long#0", "manual", "postgresql-doc", 10, 99);
  const size_t cut = whole.structure[5].offset + 30;
  Document p0 = whole, p1 = whole;
  p0.text = whole.text.substr(0, cut);
  p0.structure.assign(whole.structure.begin(), whole.structure.begin() + 6);
  p1.id = "pg-doc/long#1";
  p1.text = whole.text.substr(cut);
  p1.structure.clear();
  for (size_t k = 6; k < whole.structure.size(); ++k) {
    Section s = whole.structure[k];
    s.offset -= cut;
    p1.structure.push_back(s);
  }
  c["train"].push_back(p0);
  c["train"].push_back(p1);
  return c;
}

struct Fixture {
  test::TempDir dir;
  std::map<std::string, std::vector<Document>> corpus = fixture_corpus();
  Fixture() {
    std::filesystem::create_directories(dir / "corpus");
    for (const auto& [split, docs] : corpus) write_split(dir / "corpus", split, docs);
  }
  SegDataOptions options(const std::string& out) const {
    SegDataOptions o;
    o.corpus_dir = dir / "corpus";
    o.out_dir = dir / out;
    o.min_tokens = 64;
    o.max_tokens = 512;
    o.approx_bytes_per_token = 4;  // the cheap counter: instances of 256..2048 bytes
    o.synthetic_fraction = 1.0;
    return o;
  }
};

std::vector<SegInstance> read_instances(const std::string& path) {
  std::vector<SegInstance> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(instance_from_json_line(line));
  return out;
}

std::map<std::string, std::vector<SegInstance>> read_all(const std::string& dir) {
  std::map<std::string, std::vector<SegInstance>> out;
  for (const char* split : {"train", "validation", "test"})
    out[split] = read_instances(dir + "/" + split + ".jsonl");
  return out;
}

// Text of each block of an instance.
std::vector<std::string> blocks_of(const SegInstance& s) {
  std::vector<std::string> out;
  size_t prev = 0;
  for (size_t b : s.boundaries) {
    out.push_back(s.text.substr(prev, b - prev));
    prev = b;
  }
  out.push_back(s.text.substr(prev));
  return out;
}

TEST(SegmentDatasetBlocks, FollowStructureLevelsCommentsAndHeadwords) {
  SourceDoc doc;
  Document d = prose_doc("pg-doc/a#0", "manual", "postgresql-doc", 7, 5);
  doc.text = d.text;
  doc.structure = d.structure;
  doc.category = "manual";
  auto blocks = document_blocks(doc, policy_for("manual"));
  std::vector<size_t> want;
  for (const Section& s : d.structure)
    if (s.level <= 2) want.push_back(s.offset);
  ASSERT_EQ(blocks.size(), want.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(blocks[i].begin, want[i]);
    EXPECT_EQ(blocks[i].end, i + 1 < want.size() ? want[i + 1] : doc.text.size());
  }

  // Go: the block starts at the doc comment, and the package clause is a preamble block.
  Document g = go_doc("golang-src/x.go#0", 3, 7);
  doc.text = g.text;
  doc.structure = g.structure;
  doc.category = "go";
  blocks = document_blocks(doc, policy_for("go"));
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].begin, 0u);
  for (size_t i = 1; i < blocks.size(); ++i) {
    EXPECT_EQ(doc.text.compare(blocks[i].begin, 8, "// Func" + std::to_string(i - 1)), 0)
        << doc.text.substr(blocks[i].begin, 40);
    EXPECT_LT(blocks[i].begin, g.structure[i - 1].offset);
  }

  // Dictionary: a repeated headword stays in the block of its first entry.
  Document dd = dict_doc("dict-gcide/d#0", 6, 3);
  doc.text = dd.text;
  doc.structure = dd.structure;
  doc.category = "dictionary";
  blocks = document_blocks(doc, policy_for("dictionary"));
  ASSERT_EQ(blocks.size(), 4u);  // entries 0, 1(+2), 3, 4(+5)
  EXPECT_EQ(blocks[1].begin, dd.structure[1].offset);
  EXPECT_EQ(blocks[2].begin, dd.structure[3].offset);
}

TEST(SegmentDatasetCorpus, JoinsPartsAndRefinesCategories) {
  Fixture f;
  auto docs = read_split_file(f.dir / "corpus/train.jsonl");
  const SourceDoc* joined = nullptr;
  for (const SourceDoc& d : docs)
    if (d.group == "pg-doc/long") joined = &d;
  ASSERT_NE(joined, nullptr);
  EXPECT_EQ(joined->part_ids, (std::vector<std::string>{"pg-doc/long#0", "pg-doc/long#1"}));
  EXPECT_EQ(joined->structure.size(), 10u);
  for (const Section& s : joined->structure)
    EXPECT_EQ(joined->text.compare(s.offset, s.title.size(), s.title), 0);
  EXPECT_EQ(joined->ids_in(0, 10), std::vector<std::string>{"pg-doc/long#0"});
  EXPECT_EQ(joined->ids_in(0, joined->text.size()).size(), 2u);

  // Rebalancing may cut a joined file at a part seam: no part in both, the tail starts at a
  // section, the continuation text before it is in neither.
  SourceDoc head = *joined, tail;
  ASSERT_TRUE(split_off_parts(head, 1, tail));
  EXPECT_EQ(head.part_ids, std::vector<std::string>{"pg-doc/long#0"});
  EXPECT_EQ(tail.part_ids, std::vector<std::string>{"pg-doc/long#1"});
  ASSERT_FALSE(tail.structure.empty());
  EXPECT_EQ(tail.structure[0].offset, 0u);
  EXPECT_EQ(tail.text.compare(0, tail.structure[0].title.size(), tail.structure[0].title), 0);
  EXPECT_EQ(head.structure.size() + tail.structure.size(), joined->structure.size());
  EXPECT_EQ(joined->text.find(tail.text), joined->text.size() - tail.text.size());
  EXPECT_LT(head.text.size() + tail.text.size(), joined->text.size());
  for (const Section& sec : head.structure) EXPECT_LT(sec.offset, head.text.size());

  Document faq =
      prose_doc("perl-doc/usr/share/perl/pod/perlfaq4.pod#0", "manual", "perl-doc", 3, 1);
  EXPECT_EQ(refine_category(faq), "faq");
  Document book = prose_doc("debian-handbook/ch01.html#0", "manual", "debian-handbook", 3, 1);
  EXPECT_EQ(refine_category(book), "book");
  Document go = go_doc("golang-src/faq.go#0", 1, 1);
  EXPECT_EQ(refine_category(go), "go");
}

TEST(SegmentDataset, InstancesAreValidAndInRange) {
  Fixture f;
  SegDataOptions o = f.options("out");
  std::vector<std::string> messages;
  o.progress = [&](const std::string& m) { messages.push_back(m); };
  const SegDataReport r = build_segdata(o);
  EXPECT_FALSE(messages.empty());
  for (const std::string& m : messages) EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  const auto all = read_all(o.out_dir);
  size_t n = 0;
  std::set<std::string> categories;
  for (const auto& [split, insts] : all) {
    for (const SegInstance& s : insts) {
      ++n;
      categories.insert(s.category);
      EXPECT_EQ(s.split, split);
      EXPECT_EQ(s.id.rfind(split + "/" + s.category + "/", 0), 0u) << s.id;
      EXPECT_NO_THROW(check_instance(s));  // sorted, inside, on character and line starts
      ASSERT_FALSE(s.boundaries.empty()) << s.id;
      EXPECT_EQ(s.tokens, (s.text.size() + 3) / 4) << s.id;
      EXPECT_GE(s.tokens, o.min_tokens) << s.id;
      EXPECT_LE(s.tokens, o.max_tokens) << s.id;
      EXPECT_FALSE(s.sources.empty());
      EXPECT_NE(s.text.back(), '\n');
    }
  }
  EXPECT_EQ(n, r.instances);
  for (const char* c : {"manual", "go", "dictionary", "conversation", "multi-document"})
    EXPECT_TRUE(categories.count(c)) << c;
  EXPECT_EQ(r.files.size(), 5u);
}

TEST(SegmentDataset, BoundariesAreTheSectionStarts) {
  Fixture f;
  const SegDataOptions o = f.options("out");
  build_segdata(o);
  // Every manual title (level <= 2) that an instance contains at a line start is a boundary
  // (unless it opens the instance), and every boundary is at such a title.
  std::set<std::string> block_titles, level3_titles;
  for (const auto& [split, docs] : f.corpus)
    for (const Document& d : docs)
      if (d.category == "manual")
        for (const Section& s : d.structure)
          (s.level <= 2 ? block_titles : level3_titles).insert(s.title + "\n");
  size_t checked = 0;
  for (const auto& [split, insts] : read_all(o.out_dir))
    for (const SegInstance& s : insts) {
      if (s.category != "manual") continue;
      const std::set<size_t> b(s.boundaries.begin(), s.boundaries.end());
      for (size_t off : s.boundaries) {
        const std::string line = s.text.substr(off, s.text.find('\n', off) - off + 1);
        EXPECT_TRUE(block_titles.count(line)) << s.id << " boundary at '" << line << "'";
      }
      for (size_t pos = 0; (pos = s.text.find("Heading ", pos)) != std::string::npos; ++pos) {
        if (pos == 0 || s.text[pos - 1] != '\n') continue;
        const std::string line = s.text.substr(pos, s.text.find('\n', pos) - pos + 1);
        if (block_titles.count(line)) {
          EXPECT_TRUE(b.count(pos)) << s.id << ": '" << line << "' not a boundary";
        }
        if (level3_titles.count(line)) {
          EXPECT_FALSE(b.count(pos)) << s.id << ": level 3 '" << line << "'";
        }
        ++checked;
      }
    }
  EXPECT_GT(checked, 50u);
}

TEST(SegmentDataset, SplitBySourceDocument) {
  Fixture f;
  const SegDataOptions o = f.options("out");
  build_segdata(o);
  std::map<std::string, std::string> split_of_doc;
  for (const auto& [split, docs] : f.corpus)
    for (const Document& d : docs) split_of_doc[d.id] = split;
  std::map<std::string, std::set<std::string>> used;  // doc id -> splits
  for (const auto& [split, insts] : read_all(o.out_dir))
    for (const SegInstance& s : insts)
      for (const std::string& id : s.sources) {
        ASSERT_TRUE(split_of_doc.count(id)) << id;
        EXPECT_EQ(split_of_doc[id], split) << s.id << " draws on " << id;
        used[id].insert(split);
      }
  for (const auto& [id, splits] : used) EXPECT_EQ(splits.size(), 1u) << id;
  EXPECT_TRUE(used.count("pg-doc/long#1"));
}

TEST(SegmentDataset, DeterministicForASeed) {
  Fixture f;
  build_segdata(f.options("a"));
  build_segdata(f.options("b"));
  for (const char* file :
       {"train.jsonl", "validation.jsonl", "test.jsonl", "datasheet.md", "datasheet.json"})
    EXPECT_EQ(read_file(f.dir / (std::string("a/") + file)),
              read_file(f.dir / (std::string("b/") + file)))
        << file;
  SegDataOptions other = f.options("c");
  other.seed = 2;
  build_segdata(other);
  EXPECT_NE(read_file(f.dir / "a/train.jsonl"), read_file(f.dir / "c/train.jsonl"));
}

TEST(SegmentDataset, ConversationCutsAtSessionsAndTopics) {
  Fixture f;
  const SegDataOptions o = f.options("out");
  build_segdata(o);
  size_t sessions = 0, topics = 0;
  for (const auto& [split, insts] : read_all(o.out_dir))
    for (const SegInstance& s : insts) {
      if (s.category != "conversation") continue;
      EXPECT_EQ(s.text.rfind("Session 1 \u2014 ", 0), 0u) << s.text.substr(0, 40);
      const std::set<size_t> b(s.boundaries.begin(), s.boundaries.end());
      for (size_t off : s.boundaries) {
        const bool session = s.text.compare(off, 8, "Session ") == 0;
        const bool topic = s.text.compare(off, 6, "User: ") == 0;
        EXPECT_TRUE(session || topic) << s.text.substr(off, 40);
        sessions += session;
        topics += topic;
      }
      // Every session header is a boundary; follow-up turns are not.
      for (size_t pos = 1; (pos = s.text.find("\nSession ", pos)) != std::string::npos; ++pos)
        EXPECT_TRUE(b.count(pos + 1)) << s.id;
      for (const std::string& block : blocks_of(s)) {
        const size_t users = [&] {
          size_t c = 0;
          for (size_t p = 0; (p = block.find("User: ", p)) != std::string::npos; ++p) ++c;
          return c;
        }();
        EXPECT_GE(users, 1u);
        EXPECT_LE(users, 3u) << block;  // one topic: an opener and up to two follow-ups
      }
    }
  EXPECT_GT(sessions, 0u);
  EXPECT_GT(topics, 0u);
}

TEST(SegmentDataset, MultiDocumentCutsAtDocumentJoins) {
  Fixture f;
  const SegDataOptions o = f.options("out");
  build_segdata(o);
  size_t seen = 0;
  for (const auto& [split, insts] : read_all(o.out_dir)) {
    std::vector<const Document*> docs;
    for (const Document& d : f.corpus.at(split)) docs.push_back(&d);
    for (const SegInstance& s : insts) {
      if (s.category != "multi-document") continue;
      ++seen;
      std::string prev_pkg;
      for (std::string block : blocks_of(s)) {
        while (!block.empty() && block.back() == '\n') block.pop_back();
        // Each block is one excerpt of one document, and neighbours come from different packages.
        const Document* from = nullptr;
        for (const Document* d : docs)
          if (d->text.find(block) != std::string::npos) from = d;
        if (!from) {  // the joined long document spans two corpus parts
          EXPECT_EQ(split, "train");
          continue;
        }
        EXPECT_NE(from->source_package, prev_pkg) << s.id;
        prev_pkg = from->source_package;
      }
      for (size_t off : s.boundaries) EXPECT_EQ(s.text.compare(off - 2, 2, "\n\n"), 0) << s.id;
    }
  }
  EXPECT_GT(seen, 0u);
}

TEST(SegmentDataset, DatasheetCountsMatchTheFiles) {
  Fixture f;
  const SegDataOptions o = f.options("out");
  const SegDataReport r = build_segdata(o);
  const auto j = nlohmann::json::parse(read_file(o.out_dir + "/datasheet.json"));
  size_t instances = 0, boundaries = 0;
  for (const char* split : {"train", "validation", "test"}) {
    const auto insts = read_instances(o.out_dir + "/" + split + ".jsonl");
    size_t b = 0;
    for (const SegInstance& s : insts) b += s.boundaries.size();
    EXPECT_EQ(j["splits"][split]["total"]["instances"].get<size_t>(), insts.size()) << split;
    EXPECT_EQ(j["splits"][split]["total"]["boundaries"].get<size_t>(), b) << split;
    instances += insts.size();
    boundaries += b;
  }
  EXPECT_EQ(instances, r.instances);
  EXPECT_EQ(boundaries, r.boundaries);
  EXPECT_EQ(j["buckets"].size(), 3u);  // 64-128, 128-256, 256-512
  const std::string md = read_file(o.out_dir + "/datasheet.md");
  for (const char* s :
       {"| manual |", "| conversation |", "| multi-document |", "mean block tokens", "64-128"})
    EXPECT_CONTAINS(md, s);
}

TEST(SegmentDataset, CapsAndRebalancing) {
  Fixture f;
  SegDataOptions o = f.options("capped");
  o.max_instances_per_category = 1;
  o.category_caps["go"] = 2;
  build_segdata(o);
  for (const auto& [split, insts] : read_all(o.out_dir)) {
    std::map<std::string, size_t> per;
    for (const SegInstance& s : insts) ++per[s.category];
    for (const auto& [cat, n] : per) EXPECT_LE(n, cat == "go" ? 2u : 1u) << split << "/" << cat;
  }

  // A category only in train gets whole files moved to validation and test.
  test::TempDir dir;
  std::filesystem::create_directories(dir / "corpus");
  std::vector<Document> train;
  for (int i = 0; i < 20; ++i)
    train.push_back(prose_doc("pg-doc/r" + std::to_string(i) + "#0", "manual", "pg", 8, i));
  write_split(dir / "corpus", "train", train);
  write_split(dir / "corpus", "validation", {});
  write_split(dir / "corpus", "test", {});
  SegDataOptions r = f.options("unused");
  r.corpus_dir = dir / "corpus";
  r.out_dir = dir / "out";
  r.eval_min_fraction = 0.1;
  const SegDataReport rep = build_segdata(r);
  EXPECT_GE(rep.datasheet.moved_groups, 4u);
  const auto all = read_all(r.out_dir);
  EXPECT_FALSE(all.at("validation").empty());
  EXPECT_FALSE(all.at("test").empty());
  std::map<std::string, std::set<std::string>> used;
  for (const auto& [split, insts] : all)
    for (const SegInstance& s : insts)
      for (const std::string& id : s.sources) used[id].insert(split);
  for (const auto& [id, splits] : used) EXPECT_EQ(splits.size(), 1u) << id;
}

TEST(SegmentDataset, ExactCountsWithATokenizer) {
  Fixture f;
  SegDataOptions o = f.options("exact");
  o.approx_bytes_per_token = 0;
  o.tokenizer_path = test::fixture("tokenizers/gpt2/tokenizer.json.zst");
  const SegDataReport r = build_segdata(o);
  EXPECT_CONTAINS(r.datasheet.counter, "tokenizer");
  auto tok = Tokenizer::from_file(o.tokenizer_path);
  size_t n = 0;
  for (const auto& [split, insts] : read_all(o.out_dir))
    for (const SegInstance& s : insts) {
      EXPECT_EQ(s.tokens, tok->encode(s.text).size()) << s.id;
      EXPECT_GE(s.tokens, o.min_tokens);
      EXPECT_LE(s.tokens, o.max_tokens);
      ++n;
    }
  EXPECT_GT(n, 10u);
}

TEST(SegmentDatasetConversation, TopicsReadAsQuestions) {
  EXPECT_EQ(topic_of("9.1.2. The screen program"), "The screen program");
  EXPECT_EQ(topic_of("Chapter 9. System tips"), "System tips");
  EXPECT_EQ(topic_of("SEE ALSO", "ls(1)"), "See also of ls(1)");
  EXPECT_EQ(topic_of("Synopsis", "git-push"), "Synopsis of git-push");
  ChatPassage p;
  EXPECT_TRUE(
      make_passage("Title here\n\nFirst paragraph " + std::string(80, 'x') + "\n\nSecond.\n\n",
                   "Title here", "", p));
  EXPECT_EQ(p.topic, "Title here");
  EXPECT_EQ(p.paragraphs.size(), 2u);
  EXPECT_FALSE(make_passage("Other title\n\nbody " + std::string(100, 'y'), "Title here", "", p));
}

TEST(SegmentDataset, Errors) {
  Fixture f;
  SegDataOptions o = f.options("out");
  o.corpus_dir = f.dir / "nope";
  EXPECT_CONTAINS(test::error_of<InputError>([&] { build_segdata(o); }), "does not exist");

  std::filesystem::create_directories(f.dir / "empty");
  o.corpus_dir = f.dir / "empty";
  EXPECT_CONTAINS(test::error_of<InputError>([&] { build_segdata(o); }),
                  "train.jsonl, validation.jsonl, test.jsonl");

  for (const char* split : {"train", "validation", "test"}) write_split(f.dir / "empty", split, {});
  EXPECT_CONTAINS(test::error_of<InputError>([&] { build_segdata(o); }), "no documents");

  // A malformed line names file and line.
  std::filesystem::create_directories(f.dir / "bad");
  write_split(f.dir / "bad", "train", f.corpus["train"]);
  write_split(f.dir / "bad", "test", {});
  write_file_atomic(f.dir / "bad/validation.jsonl",
                    data::to_json_line(f.corpus["validation"][0]) + "\n{\"id\": 3}\n");
  o.corpus_dir = f.dir / "bad";
  EXPECT_CONTAINS(test::error_of<FormatError>([&] { build_segdata(o); }), "validation.jsonl:2:");

  // A section offset past the text.
  Document broken = f.corpus["train"][0];
  broken.structure.back().offset = broken.text.size() + 5;
  write_file_atomic(f.dir / "bad/validation.jsonl", data::to_json_line(broken) + "\n");
  EXPECT_CONTAINS(test::error_of<FormatError>([&] { build_segdata(o); }),
                  "validation.jsonl:1: section");

  // Documents far below the minimum length: nothing to build.
  o = f.options("out");
  o.min_tokens = 100000;
  o.max_tokens = 200000;
  EXPECT_CONTAINS(test::error_of<InputError>([&] { build_segdata(o); }), "no instance");

  o = f.options("out");
  o.min_tokens = 600;
  EXPECT_CONTAINS(test::error_of<InputError>([&] { build_segdata(o); }), "larger than max_tokens");
  o = f.options("out");
  o.approx_bytes_per_token = 0;
  EXPECT_CONTAINS(test::error_of<InputError>([&] { build_segdata(o); }), "no token counter");
  o = f.options("out");
  o.approx_bytes_per_token = 0;
  o.tokenizer_path = f.dir / "missing.model";
  EXPECT_THROW(build_segdata(o), Error);
}

}  // namespace
}  // namespace blockattn::segment
