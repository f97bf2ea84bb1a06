#include "data/corpus_sources.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/strings.h"

namespace blockattn::data {

namespace fs = std::filesystem;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Regular files (not symlinks) under root/dir, recursively when `recursive`, as rel paths.
// Errors (permissions, races) just end that branch: a corpus build must not die on them.
void walk(const std::string& root, const std::string& dir, bool recursive,
          const std::function<bool(const std::string&)>& want, std::vector<std::string>& out) {
  std::error_code ec;
  fs::path base = fs::path(root) / dir;
  if (!fs::is_directory(fs::symlink_status(base, ec))) return;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    std::string rel = dir + "/" + it->path().filename().string();
    if (fs::is_directory(st)) {
      if (recursive) walk(root, rel, true, want, out);
    } else if (fs::is_regular_file(st) && want(rel)) {
      out.push_back(rel);
    }
  }
}

// Sub-directories of root/dir whose names start with `prefix` (not symlinks), sorted.
std::vector<std::string> subdirs(const std::string& root, const std::string& dir,
                                 const std::string& prefix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(root) / dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (starts_with(name, prefix) && fs::is_directory(it->symlink_status(ec)))
      out.push_back(dir + "/" + name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool navigation_page(const std::string& rel) {  // tables of contents and indexes, not prose
  std::string name = fs::path(rel).filename().string();
  return starts_with(name, "index") || starts_with(name, "genindex") || name == "search.html" ||
         name == "py-modindex.html" || name == "ix01.html" || name == "bookindex.html" ||
         name == "toc.html" || name == "sitemap.html" || name == "keyword_index.html" ||
         name == "doclist.html" || name == "docs.html";
}

// Files listed for `package` in the dpkg database under root, when it has one.
bool dpkg_files(const std::string& root, const std::string& package,
                std::vector<std::string>& out) {
  std::ifstream in(root + "/var/lib/dpkg/info/" + package + ".list");
  if (!in) return false;
  std::string line;
  while (std::getline(in, line))
    if (line.size() > 1 && line[0] == '/') out.push_back(line.substr(1));
  return true;
}

bool is_regular_nolink(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(path, ec));
}

std::string python_doc_category(const std::string& rel) {
  if (contains(rel, "/library/") || contains(rel, "/c-api/")) return "api-reference";
  if (contains(rel, "/tutorial/") || contains(rel, "/howto/")) return "tutorial";
  if (contains(rel, "/faq/")) return "faq";
  return "manual";
}

}  // namespace

const std::vector<SourceSpec>& corpus_sources() {
  using F = SourceFormat;
  static const std::vector<SourceSpec> kSources = [] {
    std::vector<SourceSpec> v = {
        {"bash-doc", "bash-doc", "manual", "GPL-3+", F::kHtml, "Bash Reference Manual (HTML)"},
        {"bible-text", "(local)", "scripture", "public-domain", F::kScripture,
         "plain-text scripture 'Book C:V text' in /usr/share/bible/*.txt (no Debian package ships "
         "one)"},
        {"common-licenses", "base-files", "license", "verbatim copying permitted", F::kPlain,
         "licence texts in /usr/share/common-licenses"},
        {"debian-changelogs", "(per package)", "changelog", "per package (see its copyright file)",
         F::kChangelog, "changelog.Debian.gz of installed packages"},
        {"debian-handbook", "debian-handbook", "manual", "GPL-2+ or CC-BY-SA-3.0", F::kHtml,
         "The Debian Administrator's Handbook, en-US (HTML)"},
        {"debian-reference", "debian-reference-en", "manual", "GPL-2+", F::kHtml,
         "Debian Reference (HTML)"},
        {"dict-foldoc", "dict-foldoc", "glossary", "GFDL-1.1+", F::kDictd,
         "Free On-line Dictionary of Computing (dictd)"},
        {"dict-gcide", "dict-gcide", "dictionary", "GPL-3+", F::kDictd,
         "GNU Collaborative International Dictionary of English (dictd)"},
        {"dict-jargon", "dict-jargon", "glossary", "public-domain", F::kDictd,
         "The Jargon File (dictd)"},
        {"fortunes", "fortunes", "fortune", "BSD (fortune-mod); quotations of various origin",
         F::kFortunes, "fortune cookie files"},
        {"git-doc", "git-doc", "manual", "GPL-2", F::kHtml,
         "Git manuals and command references (HTML)"},
        {"golang-src", "golang-1.19-src", "go", "BSD-3-clause (Go)", F::kCode,
         "Go standard library source"},
        {"libc-headers", "libc6-dev", "c", "LGPL-2.1+", F::kCode,
         "GNU C library headers /usr/include/*.h"},
        {"linux-headers", "linux-libc-dev", "c", "GPL-2.0 WITH Linux-syscall-note", F::kCode,
         "Linux UAPI headers"},
        {"manpages", "manpages", "man-page", "Linux-man-pages-copyleft and others (per page)",
         F::kMan, "Linux man-pages sections 1-8 (groff)"},
        {"perl-doc", "perl-doc", "manual", "GPL-1+ or Artistic", F::kPod,
         "Perl documentation (POD)"},
        {"postgresql-doc", "postgresql-doc-15", "manual", "PostgreSQL", F::kHtml,
         "PostgreSQL 15 manual (HTML)"},
        {"python-doc", "python3.11-doc", "manual", "PSF-2.0", F::kHtml,
         "Python 3.11 documentation (HTML)"},
        {"python-stdlib", "libpython3.11-stdlib", "python", "PSF-2.0", F::kCode,
         "Python 3.11 standard library source"},
        {"sqlite3-doc", "sqlite3-doc", "manual", "public-domain", F::kHtml,
         "SQLite documentation (HTML)"},
        {"typescript", "node-typescript", "typescript", "Apache-2.0", F::kCode,
         "TypeScript library declarations (.d.ts)"},
        {"wordnet", "wordnet-base", "dictionary", "WordNet-3.0", F::kWordnet,
         "WordNet 3.0 synsets and glosses"},
    };
    std::sort(v.begin(), v.end(),
              [](const SourceSpec& a, const SourceSpec& b) { return a.name < b.name; });
    return v;
  }();
  return kSources;
}

const SourceSpec* find_source(const std::string& name) {
  for (const SourceSpec& s : corpus_sources())
    if (s.name == name) return &s;
  return nullptr;
}

std::vector<SourceFile> find_source_files(const SourceSpec& spec, const std::string& root) {
  std::vector<std::string> rels;
  const std::string& n = spec.name;
  auto html = [](const std::string& r) { return ends_with(r, ".html") && !navigation_page(r); };
  if (n == "bash-doc") {
    walk(
        root, "usr/share/doc/bash", false,
        [](const std::string& r) { return ends_with(r, "/bashref.html"); }, rels);
  } else if (n == "bible-text") {
    walk(
        root, "usr/share/bible", false, [](const std::string& r) { return ends_with(r, ".txt"); },
        rels);
  } else if (n == "common-licenses") {
    walk(
        root, "usr/share/common-licenses", false, [](const std::string&) { return true; }, rels);
  } else if (n == "debian-changelogs") {
    for (const std::string& d : subdirs(root, "usr/share/doc", ""))
      if (is_regular_nolink(root + "/" + d + "/changelog.Debian.gz"))
        rels.push_back(d + "/changelog.Debian.gz");
  } else if (n == "debian-handbook") {
    walk(root, "usr/share/doc/debian-handbook/html/en-US", false, html, rels);
  } else if (n == "debian-reference") {
    walk(
        root, "usr/share/debian-reference", false,
        [&](const std::string& r) { return ends_with(r, ".en.html") && html(r); }, rels);
  } else if (spec.format == SourceFormat::kDictd) {
    std::string base = n.substr(5);  // "dict-gcide" -> "gcide"
    walk(
        root, "usr/share/dictd", false,
        [&](const std::string& r) { return ends_with(r, "/" + base + ".index"); }, rels);
  } else if (n == "fortunes") {
    walk(
        root, "usr/share/games/fortunes", false,
        [](const std::string& r) {
          return !ends_with(r, ".dat") && !ends_with(r, ".u8") &&
                 !contains(fs::path(r).filename().string(), ".");
        },
        rels);
  } else if (n == "git-doc") {
    walk(root, "usr/share/doc/git-doc", true, html, rels);
  } else if (n == "golang-src") {
    for (const std::string& d : subdirs(root, "usr/share", "go-"))
      walk(
          root, d + "/src", true,
          [](const std::string& r) { return ends_with(r, ".go") && !contains(r, "/testdata/"); },
          rels);
  } else if (n == "libc-headers") {
    walk(
        root, "usr/include", false, [](const std::string& r) { return ends_with(r, ".h"); }, rels);
  } else if (n == "linux-headers") {
    walk(
        root, "usr/include/linux", true, [](const std::string& r) { return ends_with(r, ".h"); },
        rels);
  } else if (n == "manpages") {
    // Only the pages of manpages/manpages-dev when the dpkg database says which they are;
    // other packages' pages carry other licences.
    std::vector<std::string> listed;
    bool have_db = dpkg_files(root, "manpages", listed);
    have_db = dpkg_files(root, "manpages-dev", listed) || have_db;
    auto is_page = [](const std::string& r) {
      return starts_with(r, "usr/share/man/man") && std::count(r.begin(), r.end(), '/') == 4;
    };
    if (have_db) {
      for (const std::string& r : listed)
        if (is_page(r) && is_regular_nolink(root + "/" + r)) rels.push_back(r);
    } else {
      for (const std::string& d : subdirs(root, "usr/share/man", "man"))
        walk(root, d, false, is_page, rels);
    }
  } else if (n == "perl-doc") {
    for (const std::string& d : subdirs(root, "usr/share/perl", ""))
      walk(
          root, d + "/pod", false, [](const std::string& r) { return ends_with(r, ".pod"); }, rels);
  } else if (n == "postgresql-doc") {
    for (const std::string& d : subdirs(root, "usr/share/doc", "postgresql-doc-"))
      walk(root, d + "/html", false, html, rels);
  } else if (n == "python-doc") {
    for (const std::string& d : subdirs(root, "usr/share/doc", "python3."))
      walk(
          root, d + "/html", true,
          [&](const std::string& r) {
            return html(r) && !contains(r, "/_sources/") && !contains(r, "/_static/") &&
                   !contains(r, "/whatsnew/changelog");
          },
          rels);
  } else if (n == "python-stdlib") {
    for (const std::string& d : subdirs(root, "usr/lib", "python3."))
      walk(
          root, d, true,
          [](const std::string& r) {
            return ends_with(r, ".py") && !contains(r, "/test/") && !contains(r, "/tests/") &&
                   !contains(r, "/idle_test/") && !contains(r, "-packages/") &&
                   !contains(r, "/__pycache__/");
          },
          rels);
  } else if (n == "sqlite3-doc") {
    walk(root, "usr/share/doc/sqlite3", true, html, rels);
  } else if (n == "typescript") {
    walk(
        root, "usr/share/nodejs/typescript/lib", true,
        [](const std::string& r) { return ends_with(r, ".d.ts"); }, rels);
  } else if (n == "wordnet") {
    walk(
        root, "usr/share/wordnet", false,
        [](const std::string& r) {
          for (const char* p : {"noun", "verb", "adj", "adv"})
            if (ends_with(r, std::string("/data.") + p)) return true;
          return false;
        },
        rels);
  }
  std::sort(rels.begin(), rels.end());
  rels.erase(std::unique(rels.begin(), rels.end()), rels.end());

  std::vector<SourceFile> files;
  for (const std::string& r : rels) {
    SourceFile f{root + (root.empty() || root.back() == '/' ? "" : "/") + r, r, spec.package,
                 spec.category};
    if (n == "debian-changelogs") f.package = fs::path(r).parent_path().filename().string();
    if (n == "manpages" && contains(r, "/man2/")) f.package = "manpages-dev";
    if (n == "manpages" && contains(r, "/man3")) f.package = "manpages-dev";
    if (n == "python-doc") f.category = python_doc_category(r);
    if (n == "sqlite3-doc" && contains(r, "/c3ref/")) f.category = "api-reference";
    if (n == "sqlite3-doc" && contains(r, "/releaselog/")) f.category = "changelog";
    if (n == "postgresql-doc" && (contains(r, "/sql-") || contains(r, "/functions-")))
      f.category = "api-reference";
    if (n == "git-doc" && contains(fs::path(r).filename().string(), "git-"))
      f.category = "api-reference";
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace blockattn::data
