#include "cache/redis_tier.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <random>
#include <string_view>

#include "blockattn/error.h"
#include "cache/disk_tier.h"  // format_bytes
#include "core/hash.h"
#include "core/log.h"

namespace blockattn {

namespace {

// Chunk manifest, version 1: the main key's value when the entry is chunked. Little-endian.
//
//   off size field
//     0    8 magic          "BAKVCHNK" (an unchunked value starts with the entry's "BAKVBLOB")
//     8    4 u32 version    1
//    12    4 u32 n_chunks   == ceil(total_bytes / chunk_bytes)
//    16    8 u64 total_bytes  size of the reassembled entry
//    24    8 u64 chunk_bytes  size of every chunk but the last
//    32    8 u64 generation   random per put; chunk i is "<main key>:<generation hex>:<i>"
//    40    8 u64 xxh3         XXH3-64 of bytes [0, 40)
//    48      end
constexpr char kManifestMagic[8] = {'B', 'A', 'K', 'V', 'C', 'H', 'N', 'K'};
constexpr uint32_t kManifestVersion = 1;
constexpr size_t kManifestSize = 48;
constexpr uint32_t kMaxChunks = 1u << 20;
constexpr uint64_t kMinChunkBytes = 1024;

// Deletes KEYS[2..] and KEYS[1] only if KEYS[1] still holds ARGV[1] (the bytes a reader found
// corrupt), so a good value another process wrote meanwhile survives.
constexpr const char* kCompareAndDelete =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', unpack(KEYS)) end "
    "return 0";

using Clock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

timeval to_timeval(uint32_t ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(std::string_view s, size_t off, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(s[off + i])) << (8 * i);
  return v;
}

struct Manifest {
  uint32_t n_chunks = 0;
  uint64_t total_bytes = 0, chunk_bytes = 0, generation = 0;
};

std::string encode_manifest(const Manifest& m) {
  std::string out(kManifestMagic, sizeof kManifestMagic);
  put_u32(out, kManifestVersion);
  put_u32(out, m.n_chunks);
  put_u64(out, m.total_bytes);
  put_u64(out, m.chunk_bytes);
  put_u64(out, m.generation);
  put_u64(out, hash64(out.data(), out.size()));
  return out;
}

bool is_manifest(std::string_view v) {
  return v.size() >= sizeof kManifestMagic &&
         std::memcmp(v.data(), kManifestMagic, sizeof kManifestMagic) == 0;
}

// Throws FormatError naming what is wrong.
Manifest decode_manifest(std::string_view v) {
  if (v.size() != kManifestSize)
    throw FormatError("chunk manifest has " + std::to_string(v.size()) + " bytes, expected " +
                      std::to_string(kManifestSize));
  if (get_le(v, 40, 8) != hash64(v.data(), 40))
    throw FormatError("chunk manifest checksum mismatch");
  if (get_le(v, 8, 4) != kManifestVersion)
    throw FormatError("chunk manifest version " + std::to_string(get_le(v, 8, 4)) + " unsupported");
  Manifest m;
  m.n_chunks = static_cast<uint32_t>(get_le(v, 12, 4));
  m.total_bytes = get_le(v, 16, 8);
  m.chunk_bytes = get_le(v, 24, 8);
  m.generation = get_le(v, 32, 8);
  if (m.chunk_bytes == 0 || m.n_chunks == 0 || m.n_chunks > kMaxChunks ||
      (m.total_bytes + m.chunk_bytes - 1) / m.chunk_bytes != m.n_chunks)
    throw FormatError("chunk manifest is inconsistent (" + std::to_string(m.n_chunks) +
                      " chunks of " + std::to_string(m.chunk_bytes) + " for " +
                      std::to_string(m.total_bytes) + " bytes)");
  return m;
}

std::string chunk_key(const std::string& main, uint64_t generation, uint32_t i) {
  char gen[17];
  std::snprintf(gen, sizeof gen, "%016llx", static_cast<unsigned long long>(generation));
  return main + ":" + gen + ":" + std::to_string(i);
}

uint64_t random_generation() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// One command. nullptr on a connection-level failure (c->err/errstr set; the connection is then
// unusable); otherwise the reply, which may be an error reply.
Reply command(redisContext* c, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
}

// SET key value [EX ttl] as arguments.
std::vector<std::string_view> set_args(std::string_view key, std::string_view value,
                                       const std::string& ttl) {
  std::vector<std::string_view> a = {"SET", key, value};
  if (!ttl.empty()) {
    a.push_back("EX");
    a.push_back(ttl);
  }
  return a;
}

bool is_ok(const redisReply* r) {
  return r->type == REDIS_REPLY_STATUS && std::string_view(r->str, r->len) == "OK";
}

std::string reply_text(const redisReply* r) {
  return r->str != nullptr ? std::string(r->str, r->len) : "reply type " + std::to_string(r->type);
}

[[noreturn]] void bad_url(const std::string& url, const std::string& why) {
  throw InputError("bad Redis URL \"" + url + "\": " + why +
                   " (expected redis://[[user]:password@]host[:port][/db])");
}

// Digits only, value in [lo, hi].
bool parse_int(std::string_view s, long lo, long hi, int* out) {
  if (s.empty() || s.size() > 10) return false;
  long v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  if (v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

// %XX escapes in the user and password parts.
std::string percent_decode(const std::string& url, std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      bad_url(url, "bad %-escape in the user or password");
    out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

}  // namespace

std::string RedisAddress::display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

RedisAddress parse_redis_url(const std::string& url) {
  std::string_view rest = url;
  if (const size_t scheme = rest.find("://"); scheme != std::string_view::npos) {
    std::string s(rest.substr(0, scheme));
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (s != "redis") bad_url(url, "scheme \"" + s + "\" is not supported, only redis://");
    rest.remove_prefix(scheme + 3);
  }
  if (rest.find_first_of("?# \t\r\n") != std::string_view::npos)
    bad_url(url, "query parameters, fragments and spaces are not supported");
  RedisAddress a;
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) bad_url(url, "give the password as :PASSWORD@");
    a.user = percent_decode(url, userinfo.substr(0, colon));
    a.password = percent_decode(url, userinfo.substr(colon + 1));
    if (a.password.empty()) bad_url(url, "empty password");
    rest.remove_prefix(at + 1);
  }
  std::string_view hostport = rest, db;
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    db = rest.substr(slash + 1);
  }
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) bad_url(url, "unclosed [ in the host");
    a.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') bad_url(url, "expected :port after ]");
      port = after.substr(1);
      if (port.empty()) bad_url(url, "empty port");
    }
  } else {
    const size_t colon = hostport.find(':');
    a.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.find(':') != std::string_view::npos)
        bad_url(url, "an IPv6 address must be in [brackets]");
      if (port.empty()) bad_url(url, "empty port");
    }
  }
  if (a.host.empty()) bad_url(url, "no host");
  if (!port.empty() && !parse_int(port, 1, 65535, &a.port))
    bad_url(url, "port \"" + std::string(port) + "\" is not in 1..65535");
  if (!db.empty() && !parse_int(db, 0, 2147483647, &a.db))
    bad_url(url, "database \"" + std::string(db) + "\" is not a non-negative integer");
  return a;
}

RedisTier::RedisTier(RedisTierConfig config)
    : config_(std::move(config)), address_(parse_redis_url(config_.url)) {
  if (config_.connect_timeout_ms == 0 || config_.command_timeout_ms == 0)
    throw InputError("Redis timeouts must be > 0 ms");
  if (config_.chunk_bytes < kMinChunkBytes)
    throw InputError("Redis chunk size must be >= " + std::to_string(kMinChunkBytes) + " bytes");
  // One connection up front: an unreachable Redis is reported now, not on the first block.
  std::string error;
  if (redisContext* c = connect(&error)) {
    give_back(c, true);
    BA_INFO("redis cache: connected to " << address_.display());
  } else {
    failed(error);
  }
}

RedisTier::~RedisTier() { close_idle(); }

std::string RedisTier::value_key(const BlockKey& key) const {
  return config_.key_prefix + key.hex();
}

// ------------------------------------------------------------------------------ the breaker

RedisTier::Admit RedisTier::admit() {
  const int64_t until = open_until_ns_.load();
  if (until == 0) return Admit::kYes;
  if (now_ns() < until) return Admit::kNo;
  bool expected = false;
  return probing_.compare_exchange_strong(expected, true) ? Admit::kProbe : Admit::kNo;
}

void RedisTier::succeeded(Admit how) {
  if (how != Admit::kProbe) return;
  open_until_ns_ = 0;
  probing_ = false;
  if (down_.exchange(false))
    BA_INFO("redis cache: " << address_.display() << " is reachable again");
}

void RedisTier::failed(const std::string& what) {
  errors_++;
  open_until_ns_ = now_ns() + static_cast<int64_t>(config_.cooldown_ms) * 1000000 + 1;
  probing_ = false;
  close_idle();
  if (!down_.exchange(true))
    BA_WARN("redis cache: " << address_.display() << ": " << what
                            << "; blocks are recomputed until it answers (next try in "
                            << config_.cooldown_ms << " ms)");
  else
    BA_DEBUG("redis cache: " << address_.display() << ": " << what);
}

// ------------------------------------------------------------------------- connections

redisContext* RedisTier::connect(std::string* error) {
  redisContext* c = redisConnectWithTimeout(address_.host.c_str(), address_.port,
                                            to_timeval(config_.connect_timeout_ms));
  if (c == nullptr) {
    *error = "cannot allocate a connection";
    return nullptr;
  }
  auto fail = [&](const std::string& why) {
    *error = why;
    redisFree(c);
    return nullptr;
  };
  if (c->err) return fail(std::string("cannot connect: ") + c->errstr);
  if (redisSetTimeout(c, to_timeval(config_.connect_timeout_ms)) != REDIS_OK)
    return fail("cannot set the socket timeout");
  if (!address_.password.empty()) {
    Reply r = address_.user.empty() ? command(c, {"AUTH", address_.password})
                                    : command(c, {"AUTH", address_.user, address_.password});
    if (!r) return fail(std::string("AUTH: ") + c->errstr);
    if (!is_ok(r.get())) return fail("AUTH refused: " + reply_text(r.get()));
  }
  if (address_.db != 0) {
    const std::string db = std::to_string(address_.db);
    Reply r = command(c, {"SELECT", db});
    if (!r) return fail(std::string("SELECT: ") + c->errstr);
    if (!is_ok(r.get())) return fail("SELECT " + db + " refused: " + reply_text(r.get()));
  }
  if (redisSetTimeout(c, to_timeval(config_.command_timeout_ms)) != REDIS_OK)
    return fail("cannot set the socket timeout");
  return c;
}

redisContext* RedisTier::borrow(std::string* error) {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return c;
    }
  }
  return connect(error);
}

void RedisTier::give_back(redisContext* c, bool healthy) {
  if (healthy && c->err == 0) {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (idle_.size() < config_.max_idle_connections) {
      idle_.push_back(c);
      return;
    }
  }
  redisFree(c);
}

void RedisTier::close_idle() {
  std::vector<redisContext*> old;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    old.swap(idle_);
  }
  for (redisContext* c : old) redisFree(c);
}

// A borrowed connection for one call; returned to the pool (or closed, if it failed) at scope
// end.
class RedisTier::Lease {
 public:
  Lease(RedisTier& tier, redisContext* c) : tier_(tier), c_(c) {}
  ~Lease() {
    if (c_ != nullptr) tier_.give_back(c_, c_->err == 0);
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  redisContext* get() const { return c_; }
  std::string error() const { return c_->errstr; }

 private:
  RedisTier& tier_;
  redisContext* c_;
};

// ---------------------------------------------------------------------------------- get

RedisTier::Read RedisTier::read_entry(redisContext* c, const BlockKey& key, KVBlob* out,
                                      std::string* main_value, std::string* why) {
  const std::string main = value_key(key);
  Reply r = command(c, {"GET", main});
  if (!r) return Read::kNetwork;
  if (r->type == REDIS_REPLY_NIL) return Read::kAbsent;
  if (r->type == REDIS_REPLY_ERROR) {
    *why = "GET: " + reply_text(r.get());
    return Read::kReplyError;
  }
  if (r->type != REDIS_REPLY_STRING) {
    *why = "value is not a string";
    return Read::kCorrupt;
  }
  *main_value = std::string(r->str, r->len);
  r.reset();
  std::string assembled;
  std::string_view entry = *main_value;
  if (is_manifest(*main_value)) {
    Manifest m;
    try {
      m = decode_manifest(*main_value);
    } catch (const FormatError& e) {
      *why = e.what();
      return Read::kCorrupt;
    }
    assembled.reserve(std::min<uint64_t>(m.total_bytes, 1ull << 30));  // a bound, not trust
    for (uint32_t i = 0; i < m.n_chunks; ++i) {
      Reply cr = command(c, {"GET", chunk_key(main, m.generation, i)});
      if (!cr) return Read::kNetwork;
      if (cr->type == REDIS_REPLY_ERROR) {
        *why = "GET chunk: " + reply_text(cr.get());
        return Read::kReplyError;
      }
      const uint64_t expect = std::min(m.chunk_bytes, m.total_bytes - assembled.size());
      if (cr->type != REDIS_REPLY_STRING || cr->len != expect) {
        *why = "chunk " + std::to_string(i + 1) + " of " + std::to_string(m.n_chunks) +
               (cr->type == REDIS_REPLY_NIL ? " is missing"
                                            : " has " + std::to_string(cr->len) +
                                                  " bytes, expected " + std::to_string(expect));
        return Read::kCorrupt;
      }
      assembled.append(cr->str, cr->len);
    }
    entry = assembled;
  }
  try {
    *out = decode_entry(entry, key);
  } catch (const FormatError& e) {
    *why = e.what();
    return Read::kCorrupt;
  }
  return Read::kHit;
}

void RedisTier::drop_corrupt(redisContext* c, const BlockKey& key, const std::string& main_value,
                             const std::string& why) {
  const std::string main = value_key(key);
  std::vector<std::string> keys = {main};
  if (is_manifest(main_value)) {
    try {
      const Manifest m = decode_manifest(main_value);
      for (uint32_t i = 0; i < m.n_chunks; ++i) keys.push_back(chunk_key(main, m.generation, i));
    } catch (const FormatError&) {
      // A corrupt manifest names no chunks we could trust; its chunks expire or are evicted.
    }
  }
  const std::string n_keys = std::to_string(keys.size());
  std::vector<std::string_view> args = {"EVAL", kCompareAndDelete, n_keys};
  for (const std::string& k : keys) args.push_back(k);
  args.push_back(main_value);
  Reply r = command(c, args);  // a failure here only leaves the bad value for the next reader
  corrupt_dropped_++;
  if (!warned_corrupt_.exchange(true))
    BA_WARN("redis cache: dropped corrupt entry " << main << ": " << why);
  else
    BA_DEBUG("redis cache: dropped corrupt entry " << main << ": " << why);
}

std::optional<KVBlob> RedisTier::get(const BlockKey& key) {
  const Admit how = admit();
  if (how == Admit::kNo) {
    misses_++;
    return std::nullopt;
  }
  std::string error;
  redisContext* raw = borrow(&error);
  if (raw == nullptr) {
    failed(error);
    misses_++;
    return std::nullopt;
  }
  Lease c(*this, raw);
  KVBlob blob;
  std::string main_value, why;
  const Read result = read_entry(c.get(), key, &blob, &main_value, &why);
  switch (result) {
    case Read::kHit:
      succeeded(how);
      hits_++;
      return blob;
    case Read::kAbsent:
      succeeded(how);
      break;
    case Read::kCorrupt:
      drop_corrupt(c.get(), key, main_value, why);
      if (c.get()->err) {
        failed("deleting a corrupt entry: " + c.error());
      } else {
        succeeded(how);
      }
      break;
    case Read::kReplyError:
      succeeded(how);  // Redis answered: reachable, but refused (e.g. a wrong type, no auth)
      errors_++;
      BA_DEBUG("redis cache: " << why);
      break;
    case Read::kNetwork:
      failed("reading " + value_key(key) + ": " + c.error());
      break;
  }
  misses_++;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------- put

bool RedisTier::put(const BlockKey& key, const KVBlob& blob) {
  const std::string bytes = encode_entry(key, blob);  // InputError on a caller bug
  const Admit how = admit();
  if (how == Admit::kNo) {
    put_failures_++;
    return false;
  }
  std::string error;
  redisContext* raw = borrow(&error);
  if (raw == nullptr) {
    failed(error);
    put_failures_++;
    return false;
  }
  Lease c(*this, raw);
  const std::string main = value_key(key);
  const std::string ttl = config_.ttl_seconds > 0 ? std::to_string(config_.ttl_seconds) : "";
  // One SET; false with `why` set if it did not store the value.
  std::string why;
  bool network = false;
  auto set = [&](std::string_view k, std::string_view v) {
    Reply r = command(c.get(), set_args(k, v, ttl));
    if (!r) {
      network = true;
      why = c.error();
      return false;
    }
    if (!is_ok(r.get())) {
      why = reply_text(r.get());
      return false;
    }
    return true;
  };
  bool stored;
  if (bytes.size() <= config_.chunk_bytes) {
    stored = set(main, bytes);
  } else {
    Manifest m;
    m.total_bytes = bytes.size();
    m.chunk_bytes = config_.chunk_bytes;
    m.n_chunks = static_cast<uint32_t>((m.total_bytes + m.chunk_bytes - 1) / m.chunk_bytes);
    m.generation = random_generation();
    stored = true;
    // Chunks first, the manifest last: a reader never sees a manifest without its chunks.
    for (uint32_t i = 0; stored && i < m.n_chunks; ++i) {
      const uint64_t off = static_cast<uint64_t>(i) * m.chunk_bytes;
      stored =
          set(chunk_key(main, m.generation, i),
              std::string_view(bytes).substr(off, std::min(m.chunk_bytes, m.total_bytes - off)));
    }
    if (stored) stored = set(main, encode_manifest(m));
  }
  if (stored) {
    succeeded(how);
    puts_++;
    return true;
  }
  put_failures_++;
  if (network) {
    failed("storing " + main + ": " + why);
  } else {
    succeeded(how);  // Redis answered, but refused (e.g. OOM over maxmemory)
    errors_++;
    if (!warned_refused_.exchange(true))
      BA_WARN("redis cache: " << address_.display() << " refused to store a block: " << why);
    else
      BA_DEBUG("redis cache: refused to store " << main << ": " << why);
  }
  return false;
}

bool RedisTier::contains(const BlockKey& key) {
  const Admit how = admit();
  if (how == Admit::kNo) return false;
  std::string error;
  redisContext* raw = borrow(&error);
  if (raw == nullptr) {
    failed(error);
    return false;
  }
  Lease c(*this, raw);
  Reply r = command(c.get(), {"EXISTS", value_key(key)});
  if (!r) {
    failed("EXISTS: " + c.error());
    return false;
  }
  succeeded(how);
  return r->type == REDIS_REPLY_INTEGER && r->integer > 0;
}

std::string RedisTier::describe() const {
  std::string ttl = config_.ttl_seconds > 0 ? std::to_string(config_.ttl_seconds) + " s" : "none";
  return "redis " + address_.display() + " (prefix " + config_.key_prefix + ", ttl " + ttl +
         ", chunks of " + format_bytes(config_.chunk_bytes) + ", " +
         (open_until_ns_.load() != 0 ? "down" : "up") + ")";
}

TierStats RedisTier::stats() const {
  TierStats s;
  s.hits = hits_;
  s.misses = misses_;
  s.puts = puts_;
  s.put_failures = put_failures_;
  s.corrupt_dropped = corrupt_dropped_;
  s.errors = errors_;
  return s;
}

}  // namespace blockattn
