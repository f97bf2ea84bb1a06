// The corpus builder on a tiny fake filesystem (tests/fixtures/corpus/root): extraction keeps
// each document's structure with offsets at the heading text and no markup, duplicates go,
// the split is deterministic, disjoint and complete, and bad input fails with one clear error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "blockattn/error.h"
#include "core/io.h"
#include "data/corpus_builder.h"
#include "data/dedup.h"
#include "data/extract_code.h"
#include "data/extract_dict.h"
#include "data/extract_html.h"
#include "data/extract_man.h"
#include "data/extract_plain.h"
#include "data/extract_pod.h"
#include "data/gzip_reader.h"
#include "data/text_clean.h"
#include "test_util.h"

namespace blockattn::data {
namespace {

const std::string kRoot = test::fixture("corpus/root");

std::string root_file(const std::string& rel) { return clean_text(read_file_maybe_gz(kRoot + "/" + rel)); }

// Every section's offset is inside the text and its title is the text found there.
void expect_titles_at_offsets(const Document& d) {
  for (const Section& s : d.structure) {
    ASSERT_LT(s.offset, d.text.size()) << s.title;
    EXPECT_EQ(d.text.compare(s.offset, s.title.size(), s.title), 0)
        << "'" << s.title << "' vs '" << d.text.substr(s.offset, s.title.size()) << "'";
  }
}

std::vector<std::string> titles(const Document& d) {
  std::vector<std::string> t;
  for (const Section& s : d.structure) t.push_back(s.title);
  return t;
}

TEST(CorpusExtract, ManPageSectionsWithoutMacros) {
  Document d = extract_man(root_file("usr/share/man/man1/hello.1"));
  EXPECT_EQ(d.title, "HELLO(1)");
  EXPECT_EQ(titles(d), (std::vector<std::string>{"NAME", "SYNOPSIS", "DESCRIPTION", "Options", "SEE ALSO"}));
  EXPECT_EQ(d.structure[3].level, 2);
  EXPECT_EQ(d.structure[3].kind, "subsection");
  EXPECT_EQ(d.structure[0].kind, "section");
  expect_titles_at_offsets(d);
  EXPECT_NE(d.text.find("hello - print a friendly greeting"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("corpus \u2014 man page"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("-t, --traditional"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("\u201Chello, world\u201D"), std::string::npos) << d.text;
  for (const char* markup : {"\\f", ".TH", ".SH", ".B ", "\\(", "\\-", "fixture man page"})
    EXPECT_EQ(d.text.find(markup), std::string::npos) << markup << " in\n" << d.text;
}

TEST(CorpusExtract, HtmlHeadingsAndNoMarkup) {
  Document d = extract_html(root_file("usr/share/debian-reference/ch01.en.html"));
  EXPECT_EQ(d.title, "Chapter 1. Tutorials");
  ASSERT_EQ(d.structure.size(), 4u);
  EXPECT_EQ(d.structure[0].title, "Chapter 1. GNU/Linux tutorials");
  EXPECT_EQ(d.structure[0].level, 1);
  EXPECT_EQ(d.structure[0].kind, "chapter");
  EXPECT_EQ(d.structure[1].title, "1.1. Console basics");
  EXPECT_EQ(d.structure[1].level, 2);
  EXPECT_EQ(d.structure[1].kind, "section");
  EXPECT_EQ(d.structure[3].level, 3);
  EXPECT_EQ(d.structure[0].offset, 0u);  // the navigation header is gone
  expect_titles_at_offsets(d);
  EXPECT_NE(d.text.find("basic points & ideas."), std::string::npos);
  EXPECT_NE(d.text.find("$ ls -l\ntotal 0"), std::string::npos) << "pre keeps its lines";
  for (const char* bad : {"<", "&amp;", "&nbsp;", "not a heading", "Home", "Prev", "color: black"})
    EXPECT_EQ(d.text.find(bad), std::string::npos) << bad << " in\n" << d.text;
}

TEST(CorpusExtract, PythonTopLevelUnits) {
  Document d = extract_code(root_file("usr/lib/python3.11/sample.py"), CodeLanguage::kPython, "sample.py");
  ASSERT_EQ(d.structure.size(), 5u) << d.text;
  EXPECT_EQ(titles(d), (std::vector<std::string>{"first", "second", "Greeter", "greet", "third"}));
  EXPECT_EQ(d.structure[0].kind, "function");
  EXPECT_EQ(d.structure[2].kind, "class");
  EXPECT_EQ(d.structure[3].kind, "method");
  EXPECT_EQ(d.structure[3].level, 2);
  // A unit starts at the comment and decorator directly above it.
  EXPECT_EQ(d.text.compare(d.structure[1].offset, 13, "# A comment t"), 0);
  EXPECT_EQ(d.text.compare(d.structure[0].offset, 9, "def first"), 0);
  EXPECT_EQ(d.text.compare(d.structure[4].offset, 15, "async def third"), 0);
}

TEST(CorpusExtract, CFamilyUnits) {
  Document c = extract_code(
      "/* header */\n#define X(a) { a }\nextern \"C\" {\n/* Opens. */\nint open_it(const char *p);\n"
      "struct point {\n  int x, y;\n};\ntypedef unsigned long size_type;\n}\n",
      CodeLanguage::kC, "x.h");
  EXPECT_EQ(titles(c), (std::vector<std::string>{"open_it", "point", "size_type"}));
  EXPECT_EQ(c.text.compare(c.structure[0].offset, 12, "/* Opens. */"), 0);
  Document go = extract_code("package x\n\n// Add adds.\nfunc Add(a, b int) int {\n\treturn a + b\n}\n\n"
                             "func (p *Point) Len() int { return 0 }\n\ntype Point struct{ X int }\n",
                             CodeLanguage::kGo, "x.go");
  EXPECT_EQ(titles(go), (std::vector<std::string>{"Add", "Point.Len", "Point"}));
  EXPECT_EQ(go.text.compare(go.structure[0].offset, 12, "// Add adds."), 0);
  Document ts = extract_code("/** Doc. */\ninterface Foo {\n  bar(): void;\n}\ndeclare function baz(): void;\n",
                             CodeLanguage::kTypeScript, "x.d.ts");
  EXPECT_EQ(titles(ts), (std::vector<std::string>{"Foo", "baz"}));
  EXPECT_EQ(ts.structure[0].offset, 0u);
}

TEST(CorpusExtract, FortunesScripturePodDictChangelog) {
  Document f = extract_fortunes(root_file("usr/share/games/fortunes/wisdom"), "wisdom");
  ASSERT_EQ(f.structure.size(), 3u);
  expect_titles_at_offsets(f);
  EXPECT_EQ(f.text.find("\n%"), std::string::npos);
  EXPECT_EQ(f.structure[1].title, "Simplicity is prerequisite for reliability.");

  Document b = extract_scripture(root_file("usr/share/bible/kjv-sample.txt"), "kjv");
  std::vector<std::string> want{"Genesis", "Genesis 1", "Genesis 2", "Exodus", "Exodus 1"};
  EXPECT_EQ(titles(b), want);
  EXPECT_EQ(b.structure[0].kind, "book");
  EXPECT_EQ(b.structure[1].kind, "chapter");
  EXPECT_EQ(b.structure[1].level, 2);
  expect_titles_at_offsets(b);
  EXPECT_NE(b.text.find("Genesis 2\n\n1 Thus the heavens"), std::string::npos) << b.text;

  Document p = extract_pod(root_file("usr/share/perl/5.36.0/pod/perlfixture.pod"));
  EXPECT_EQ(p.title, "perlfixture - a tiny POD page for the corpus tests");
  EXPECT_EQ(titles(p), (std::vector<std::string>{"NAME", "DESCRIPTION", "Details"}));
  expect_titles_at_offsets(p);
  EXPECT_NE(p.text.find("bold, italic and $code->method text"), std::string::npos) << p.text;
  EXPECT_NE(p.text.find("escaped <tag>."), std::string::npos) << p.text;
  EXPECT_NE(p.text.find("    my $verbatim = 1;"), std::string::npos) << p.text;
  EXPECT_EQ(p.text.find("=head"), std::string::npos);

  std::string index = read_file(kRoot + "/usr/share/dictd/jargon.index");
  Document j = extract_dictd(index, read_file(kRoot + "/usr/share/dictd/jargon.dict"), "jargon");
  EXPECT_EQ(titles(j), (std::vector<std::string>{"hacker", "kludge"}));
  EXPECT_EQ(j.text.compare(j.structure[1].offset, 6, "kludge"), 0);
  uint64_t v = 0;
  EXPECT_TRUE(dictd_b64("BA", v));
  EXPECT_EQ(v, 64u);

  Document c = extract_changelog(root_file("usr/share/doc/hello/changelog.Debian.gz"), "hello");
  EXPECT_EQ(titles(c), (std::vector<std::string>{"hello (2.10-3)", "hello (2.10-2)"}));
  expect_titles_at_offsets(c);
}

TEST(CorpusExtract, CleanTextAndPlainHeadings) {
  EXPECT_EQ(clean_text("a\r\nb\rc\x01\td"), "a\nb\nc\td");
  EXPECT_EQ(clean_text("caf\xe9"), "caf\xc3\xa9");  // Latin-1 fallback
  EXPECT_EQ(clean_text("caf\xc3\xa9"), "caf\xc3\xa9");
  Document d = extract_plain("Title here\n==========\n\nText.\n\n  1. Definitions.\nMore.\n", "x");
  EXPECT_EQ(titles(d), (std::vector<std::string>{"Title here", "1. Definitions."}));
  EXPECT_EQ(d.text.find("==="), std::string::npos);
  expect_titles_at_offsets(d);
}

TEST(CorpusDocument, SplitAtStructureAndJsonRoundTrip) {
  Document d;
  d.id = "x/y#0";
  d.title = "t";
  for (int k = 0; k < 10; ++k) {
    d.structure.push_back({d.text.size(), 1, "entry", "e" + std::to_string(k)});
    d.text += "e" + std::to_string(k) + " " + std::string(90, 'a' + k) + "\n";
  }
  std::vector<Document> parts = split_document(d, 300);
  ASSERT_GT(parts.size(), 3u);
  std::string joined;
  for (const Document& p : parts) {
    EXPECT_LE(p.text.size(), 300u);
    ASSERT_FALSE(p.structure.empty());
    EXPECT_EQ(p.structure[0].offset, 0u) << "parts start at a boundary";
    expect_titles_at_offsets(p);
    joined += p.text;
  }
  EXPECT_EQ(joined, d.text);
  Document back = from_json_line(to_json_line(parts[1]));
  EXPECT_EQ(back.text, parts[1].text);
  EXPECT_EQ(back.structure, parts[1].structure);
  EXPECT_EQ(back.title, parts[1].title);
  EXPECT_THROW(from_json_line("{\"id\": 1}"), FormatError);
}

TEST(CorpusDedup, ExactAndNearDuplicates) {
  std::string base;
  for (int k = 0; k < 200; ++k) base += "word" + std::to_string(k) + " ";
  std::string near = base;
  near.replace(near.find("word100 "), 8, "other100 ");
  std::string far;
  for (int k = 0; k < 200; ++k) far += "term" + std::to_string(k * 7) + " ";
  std::vector<Document> docs(4);
  docs[0].id = "a", docs[0].text = base;
  docs[1].id = "b", docs[1].text = base;
  docs[2].id = "c", docs[2].text = near;
  docs[3].id = "d", docs[3].text = far;
  DedupResult r = deduplicate(docs);
  EXPECT_EQ(r.keep, (std::vector<bool>{true, false, false, true}));
  EXPECT_EQ(r.exact_duplicates, 1u);
  EXPECT_EQ(r.near_duplicates, 1u);
  EXPECT_GT(signature_similarity(minhash_signature(base), minhash_signature(near)), 0.8);
  EXPECT_LT(signature_similarity(minhash_signature(base), minhash_signature(far)), 0.2);
}

std::vector<Document> read_jsonl(const std::string& path) {
  std::vector<Document> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(from_json_line(line));
  return out;
}

CorpusOptions fixture_options(const std::string& out) {
  CorpusOptions o;
  o.root = kRoot;
  o.out_dir = out;
  o.min_doc_bytes = 20;
  o.validation_fraction = 0.25;  // the fixture has ~10 documents: make every split likely used
  o.test_fraction = 0.25;
  return o;
}

TEST(CorpusBuild, DedupSplitAndDeterminism) {
  test::TempDir tmp;
  CorpusOptions o = fixture_options(tmp / "a");
  std::vector<std::string> seen_sources;
  o.progress = [&](const CorpusProgress& p) {
    if (p.finished) seen_sources.push_back(p.source);
  };
  CorpusSummary s = build_corpus(o);
  EXPECT_EQ(s.exact_duplicates, 1u);  // sample_copy.py
  EXPECT_EQ(s.near_duplicates, 1u);   // ch02.en.html
  EXPECT_EQ(s.files_skipped, 0u);
  EXPECT_FALSE(seen_sources.empty());

  std::set<std::string> ids;
  size_t total = 0;
  for (const char* split : {"train", "validation", "test"}) {
    for (const Document& d : read_jsonl(tmp / ("a/" + std::string(split) + ".jsonl"))) {
      EXPECT_TRUE(ids.insert(d.id).second) << "document in two splits: " << d.id;
      EXPECT_EQ(split_for(o.seed, d.id, o.validation_fraction, o.test_fraction), split);
      EXPECT_FALSE(d.license.empty());
      EXPECT_FALSE(d.source_package.empty());
      for (const Section& sec : d.structure) EXPECT_LT(sec.offset, d.text.size());
      ++total;
    }
  }
  EXPECT_EQ(total, s.total.documents);
  for (const char* want : {"manpages/usr/share/man/man1/hello.1#0", "debian-reference/usr/share/debian-reference/ch01.en.html#0",
                           "python-stdlib/usr/lib/python3.11/sample.py#0", "fortunes/usr/share/games/fortunes/wisdom#0",
                           "bible-text/usr/share/bible/kjv-sample.txt#0", "debian-changelogs/usr/share/doc/hello/changelog.Debian.gz#0",
                           "perl-doc/usr/share/perl/5.36.0/pod/perlfixture.pod#0", "dict-jargon/usr/share/dictd/jargon.index#0"})
    EXPECT_EQ(ids.count(want), 1u) << want;
  EXPECT_EQ(ids.count("python-stdlib/usr/lib/python3.11/sample_copy.py#0"), 0u);
  EXPECT_EQ(ids.count("debian-reference/usr/share/debian-reference/ch02.en.html#0"), 0u);

  // The manifest lists every kept document; a second build is byte-identical.
  auto manifest = read_file(tmp / "a/manifest.json");
  EXPECT_NE(manifest.find(s.manifest_hash), std::string::npos);
  EXPECT_NE(manifest.find("\"split\""), std::string::npos);
  CorpusOptions o2 = fixture_options(tmp / "b");
  CorpusSummary s2 = build_corpus(o2);
  EXPECT_EQ(s2.manifest_hash, s.manifest_hash);
  for (const char* f : {"train.jsonl", "validation.jsonl", "test.jsonl", "manifest.json", "report.md"})
    EXPECT_EQ(read_file(tmp / ("a/" + std::string(f))), read_file(tmp / ("b/" + std::string(f)))) << f;
  EXPECT_NE(s.report.find("| man-page | 1 |"), std::string::npos) << s.report;

  // Another seed changes the split assignment (of these ids, at these fractions), not the docs.
  CorpusOptions o3 = fixture_options(tmp / "c");
  o3.seed = 7;
  CorpusSummary s3 = build_corpus(o3);
  EXPECT_EQ(s3.total.documents, s.total.documents);
  EXPECT_NE(s3.manifest_hash, s.manifest_hash);
}

TEST(CorpusBuild, RestrictedSourcesAndBadInput) {
  test::TempDir tmp;
  CorpusOptions o = fixture_options(tmp / "out");
  o.sources = {"fortunes", "manpages"};
  CorpusSummary s = build_corpus(o);
  EXPECT_EQ(s.total.documents, 2u);
  EXPECT_EQ(s.by_category.size(), 2u);

  o.sources = {"no-such-source"};
  EXPECT_THROW(build_corpus(o), InputError);
  o.sources.clear();
  o.root = tmp / "missing";
  EXPECT_THROW(build_corpus(o), InputError);
  std::filesystem::create_directories(tmp / "empty");
  o.root = tmp / "empty";
  EXPECT_THROW(build_corpus(o), InputError);
  // A root with files, but none any source reads.
  std::filesystem::create_directories(tmp / "other/etc");
  write_file_atomic(tmp / "other/etc/hostname", "box\n");
  o.root = tmp / "other";
  try {
    build_corpus(o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no documents found"), std::string::npos) << e.what();
  }
}

TEST(CorpusBuild, UnreadableFileIsSkippedWithAWarning) {
  test::TempDir tmp;
  std::filesystem::create_directories(tmp / "root/usr/share/doc/broken");
  std::filesystem::create_directories(tmp / "root/usr/share/games/fortunes");
  write_file_atomic(tmp / "root/usr/share/doc/broken/changelog.Debian.gz", "\x1f\x8b not really gzip");
  write_file_atomic(tmp / "root/usr/share/games/fortunes/ok", "A fortune long enough to keep.\n%\nAnother one here.\n");
  CorpusOptions o = fixture_options(tmp / "out");
  o.root = tmp / "root";
  CorpusSummary s = build_corpus(o);
  EXPECT_EQ(s.files_skipped, 1u);
  EXPECT_EQ(s.total.documents, 1u);
  EXPECT_THROW(gunzip("\x1f\x8b\x08\x00", "x"), FormatError);
}

}  // namespace
}  // namespace blockattn::data
