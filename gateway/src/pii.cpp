// Personal-data protection: AES-256-GCM tokens (OpenSSL EVP), the key file, and the walk along the
// v1 model that seals every value marked x-odr-personal-data. Token format: docs/audit.md.
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

#include <odrgw/gateway/pii.hpp>

#include "storage_internal.hpp"

namespace odrgw::gateway {
namespace {

constexpr std::string_view token_prefix = "odrgw-pii:v1:";
constexpr std::string_view json_marker = "j:";
constexpr std::size_t nonce_len = 12;
constexpr std::size_t tag_len = 16;

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

EVP_CIPHER_CTX* thread_ctx() {
  thread_local cipher_ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw std::runtime_error("OpenSSL: cannot allocate a cipher context");
  EVP_CIPHER_CTX_reset(ctx.get());
  return ctx.get();
}

bool is_b64_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Strict standard base64 with padding; nullopt for anything else.
std::optional<std::vector<std::uint8_t>> unbase64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0 || s.size() > INT_MAX) return std::nullopt;
  std::size_t pad = 0;
  if (s.back() == '=') pad = s[s.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < s.size() - pad; ++i)
    if (!is_b64_char(s[i])) return std::nullopt;
  std::vector<std::uint8_t> out(s.size() / 4 * 3);
  const int len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()),
                                  static_cast<int>(s.size()));
  if (len < 0 || static_cast<std::size_t>(len) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  return out;
}

std::string errno_text() { return std::strerror(errno); }

struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

std::string mode_text(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// Reads the key file; `path` for messages.
std::array<std::uint8_t, 32> read_key_file(const std::string& path) {
  fd_guard f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) throw std::runtime_error("PII key file " + path + ": " + errno_text());
  struct stat st {};
  if (::fstat(f.fd, &st) != 0)
    throw std::runtime_error("PII key file " + path + ": " + errno_text());
  if (!S_ISREG(st.st_mode))
    throw std::runtime_error("PII key file " + path + ": not a regular file");
  if ((st.st_mode & 077) != 0)
    throw std::runtime_error("PII key file " + path + " is accessible by group or others (mode " +
                             mode_text(st.st_mode) + "); run: chmod 600 " + path);
  if (st.st_size > 256)
    throw std::runtime_error("PII key file " + path +
                             ": too large (expected 32 bytes or 64 hex digits)");
  std::string content(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < content.size()) {
    const ssize_t n = ::read(f.fd, content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("PII key file " + path + ": short read");
    got += static_cast<std::size_t>(n);
  }
  std::array<std::uint8_t, 32> key{};
  if (content.size() == 32) {
    std::memcpy(key.data(), content.data(), 32);
    return key;
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r' ||
                              content.back() == ' ' || content.back() == '\t'))
    content.pop_back();
  if (!detail::from_hex32(content, key))
    throw std::runtime_error(
        "PII key file " + path +
        ": must hold 32 bytes, or 64 hex digits (e.g. `openssl rand -hex 32`)");
  return key;
}

void fsync_dir(const std::filesystem::path& dir) {
  fd_guard d;
  d.fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd >= 0) ::fsync(d.fd);
}

// Creates the missing directories of `dir` with mode 0700.
void make_dirs(const std::filesystem::path& dir, const std::string& key_path) {
  if (dir.empty()) return;
  std::filesystem::path cur;
  for (const auto& part : dir) {
    cur /= part;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      throw std::runtime_error("PII key file " + key_path + ": cannot create directory " +
                               cur.string() + ": " + errno_text());
  }
}

}  // namespace

pii_key pii_key::from_bytes(const std::array<std::uint8_t, 32>& bytes) {
  pii_key k;
  k.key_ = bytes;
  const auto d =
      detail::sha256(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  k.id_ = detail::to_hex(d.data(), 4);
  return k;
}

pii_key pii_key::load(const std::string& path) {
  if (path.empty()) throw std::runtime_error("PII key file: no path given");
  return from_bytes(read_key_file(path));
}

pii_key pii_key::load_or_create(const std::string& path) {
  if (path.empty()) throw std::runtime_error("PII key file: no path given");
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return load(path);
  if (errno != ENOENT) throw std::runtime_error("PII key file " + path + ": " + errno_text());

  const std::filesystem::path p(path);
  make_dirs(p.parent_path(), path);
  std::array<std::uint8_t, 32> key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    throw std::runtime_error("PII key file " + path + ": OpenSSL RAND_bytes failed");
  fd_guard f;
  f.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (f.fd < 0) {
    if (errno == EEXIST) return load(path);  // created concurrently by another process
    throw std::runtime_error("PII key file " + path + ": cannot create: " + errno_text());
  }
  if (::fchmod(f.fd, 0600) != 0)
    throw std::runtime_error("PII key file " + path + ": chmod: " + errno_text());
  const std::string text = detail::to_hex(key.data(), key.size()) + "\n";
  std::size_t put = 0;
  while (put < text.size()) {
    const ssize_t n = ::write(f.fd, text.data() + put, text.size() - put);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::unlink(path.c_str());
      throw std::runtime_error("PII key file " + path + ": write: " + why);
    }
    put += static_cast<std::size_t>(n);
  }
  if (::fsync(f.fd) != 0) {
    const std::string why = errno_text();
    ::unlink(path.c_str());
    throw std::runtime_error("PII key file " + path + ": fsync: " + why);
  }
  fsync_dir(p.parent_path());
  return from_bytes(key);
}

std::string pii_key::key_id() const { return id_; }

std::string pii_key::seal(std::string_view plaintext) const { return seal_kind(plaintext, false); }

std::string pii_key::seal_json(std::string_view json_text) const {
  return seal_kind(json_text, true);
}

namespace {

// The sealing state of one thread: a GCM context with the AES key schedule set up once, and the
// nonce source. Nonces are unique per key by construction, not by chance: 12 bytes = an 8-byte
// random prefix drawn (RAND_bytes) whenever this thread starts using a key, then a 4-byte counter.
// The counter never repeats under one prefix (a new prefix is drawn before it would wrap), and two
// prefixes collide with probability ~n^2 / 2^65 for n prefixes ever drawn under a key (threads x
// restarts x key switches): far below the 2^-32 bound NIST SP 800-38D sets for random nonces,
// which a fresh 96-bit random nonce per value (the former scheme) only meets up to 2^32 values.
// Not fork-safe: a forked child would reuse its parent's counter state (the gateway never forks).
struct sealer {
  cipher_ctx ctx{EVP_CIPHER_CTX_new()};
  std::array<std::uint8_t, 32> key{};
  bool keyed = false;
  std::array<std::uint8_t, nonce_len> nonce{};  // prefix (8) || big-endian counter (4)
  std::uint64_t counter = 0;                    // values sealed under the current prefix
  std::vector<std::uint8_t> buf;                // nonce || ciphertext || tag, reused

  void new_prefix() {
    if (RAND_bytes(nonce.data(), 8) != 1) throw std::runtime_error("OpenSSL RAND_bytes failed");
    counter = 0;
  }

  // Sets the key once per thread (and again only when another key is used on this thread).
  void use_key(const std::array<std::uint8_t, 32>& k) {
    if (!ctx) throw std::runtime_error("OpenSSL: cannot allocate a cipher context");
    if (keyed && k == key) return;
    keyed = false;
    EVP_CIPHER_CTX_reset(ctx.get());
    if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_len),
                            nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, k.data(), nullptr) != 1)
      throw std::runtime_error("OpenSSL AES-256-GCM key set-up failed");
    key = k;
    keyed = true;
    new_prefix();  // a fresh prefix for every (thread, key) pairing
  }

  const std::uint8_t* next_nonce() {
    if (counter > 0xFFFFFFFFu) new_prefix();
    const auto c = static_cast<std::uint32_t>(counter++);
    nonce[8] = static_cast<std::uint8_t>(c >> 24);
    nonce[9] = static_cast<std::uint8_t>(c >> 16);
    nonce[10] = static_cast<std::uint8_t>(c >> 8);
    nonce[11] = static_cast<std::uint8_t>(c);
    return nonce.data();
  }
};

}  // namespace

std::string pii_key::seal_kind(std::string_view plaintext, bool json) const {
  if (plaintext.size() > (INT_MAX / 2)) throw std::length_error("PII value too large to seal");
  thread_local sealer s;
  s.use_key(key_);
  const std::uint8_t* nonce = s.next_nonce();

  // The header is the additional authenticated data and the start of the token.
  std::string out;
  const std::size_t raw_len = nonce_len + plaintext.size() + tag_len;
  out.reserve(token_prefix.size() + id_.size() + 1 + json_marker.size() + 4 * ((raw_len + 2) / 3) +
              1);
  out += token_prefix;
  out += id_;
  out += ':';
  if (json) out += json_marker;
  const std::size_t header_len = out.size();

  s.buf.resize(raw_len);
  std::memcpy(s.buf.data(), nonce, nonce_len);
  std::uint8_t* ct = s.buf.data() + nonce_len;
  EVP_CIPHER_CTX* ctx = s.ctx.get();
  int len = 0;
  int total = 0;
  // Only the nonce changes: the key schedule set up in use_key() is kept.
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1 ||
      EVP_EncryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(out.data()),
                        static_cast<int>(header_len)) != 1 ||
      EVP_EncryptUpdate(ctx, ct, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1) {
    s.keyed = false;  // start from a clean context next time
    throw std::runtime_error("OpenSSL AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx, ct + total, &len) != 1) {
    s.keyed = false;
    throw std::runtime_error("OpenSSL AES-256-GCM encryption failed");
  }
  total += len;
  if (static_cast<std::size_t>(total) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_len), ct + total) != 1) {
    s.keyed = false;
    throw std::runtime_error("OpenSSL AES-256-GCM tag failed");
  }
  out.resize(header_len + 4 * ((raw_len + 2) / 3) + 1);
  const int b64 = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + header_len),
                                  s.buf.data(), static_cast<int>(raw_len));
  out.resize(header_len + static_cast<std::size_t>(b64));
  return out;
}

std::optional<pii_key::opened> pii_key::open_token(std::string_view token) const {
  try {
    if (!token.starts_with(token_prefix)) return std::nullopt;
    std::string_view rest = token.substr(token_prefix.size());
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos || rest.substr(0, colon) != id_) return std::nullopt;
    rest.remove_prefix(colon + 1);
    opened out;
    if (rest.starts_with(json_marker)) {
      out.json = true;
      rest.remove_prefix(json_marker.size());
    }
    const std::string_view header = token.substr(0, token.size() - rest.size());
    auto raw = unbase64(rest);
    if (!raw || raw->size() < nonce_len + tag_len) return std::nullopt;
    const std::size_t ct_len = raw->size() - nonce_len - tag_len;
    const std::uint8_t* nonce = raw->data();
    const std::uint8_t* ct = raw->data() + nonce_len;
    std::vector<std::uint8_t> tag(ct + ct_len, ct + ct_len + tag_len);
    out.plaintext.resize(ct_len);
    EVP_CIPHER_CTX* ctx = thread_ctx();
    int len = 0;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_len), nullptr) !=
            1 ||
        EVP_DecryptInit_ex(ctx, nullptr, nullptr, key_.data(), nonce) != 1 ||
        EVP_DecryptUpdate(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(header.data()),
                          static_cast<int>(header.size())) != 1 ||
        EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.plaintext.data()), &len, ct,
                          static_cast<int>(ct_len)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_len), tag.data()) != 1)
      return std::nullopt;
    int fin = 0;
    if (EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.plaintext.data()) + len,
                            &fin) != 1)
      return std::nullopt;  // the tag does not verify: wrong key or altered token
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<std::string> pii_key::open(std::string_view token) const {
  auto o = open_token(token);
  if (!o) return std::nullopt;
  return std::move(o->plaintext);
}

bool is_sealed(std::string_view s) noexcept { return s.starts_with(token_prefix); }

namespace {

void seal_value(rapidjson::Value& v, rapidjson::Document::AllocatorType& a, const pii_key& key) {
  if (v.IsNull()) return;
  if (v.IsString()) {
    // Always sealed, even text that looks like a token already: the input is the sender's, and
    // "already sealed" text from outside would otherwise be stored as is (in clear, or replayed
    // from elsewhere) and opened or redacted on the way out as if odrgw had sealed it.
    const std::string_view s(v.GetString(), v.GetStringLength());
    v.SetString(key.seal(s), a);
    return;
  }
  v.SetString(key.seal_json(schemas::to_json_string(v)), a);
}

}  // namespace

void protect(const schemas::node& root, rapidjson::Value& message,
             rapidjson::Document::AllocatorType& a, const pii_key& key) {
  if (root.personal_data) {
    seal_value(message, a, key);
    return;
  }
  // Iterative walk (model node, value) so that no input depth can exhaust the stack.
  std::vector<std::pair<const schemas::node*, rapidjson::Value*>> todo{{&root, &message}};
  while (!todo.empty()) {
    auto [n, v] = todo.back();
    todo.pop_back();
    if (n->type == schemas::value_type::object && v->IsObject()) {
      for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
        const schemas::property* p =
            n->find_property(std::string_view(it->name.GetString(), it->name.GetStringLength()));
        if (p == nullptr || p->schema == nullptr) continue;
        if (p->personal_data || p->schema->personal_data)
          seal_value(it->value, a, key);
        else
          todo.emplace_back(p->schema, &it->value);
      }
    } else if (n->type == schemas::value_type::array && v->IsArray() && n->items != nullptr) {
      for (auto& item : v->GetArray()) {
        if (n->items->personal_data)
          seal_value(item, a, key);
        else
          todo.emplace_back(n->items, &item);
      }
    }
  }
}

void reveal(rapidjson::Value& message, rapidjson::Document::AllocatorType& a, const pii_key* key) {
  std::vector<rapidjson::Value*> todo{&message};
  while (!todo.empty()) {
    rapidjson::Value* v = todo.back();
    todo.pop_back();
    if (v->IsObject()) {
      for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) todo.push_back(&it->value);
    } else if (v->IsArray()) {
      for (auto& item : v->GetArray()) todo.push_back(&item);
    } else if (v->IsString()) {
      const std::string_view s(v->GetString(), v->GetStringLength());
      if (!is_sealed(s)) continue;
      std::optional<pii_key::opened> o;
      if (key != nullptr) o = key->open_token(s);
      if (!o) {
        v->SetString("[redacted]", a);
      } else if (!o->json) {
        v->SetString(o->plaintext, a);
      } else {
        rapidjson::Document d;
        schemas::json_error err;
        if (schemas::parse_json(o->plaintext, d, {}, err))
          v->CopyFrom(d, a);
        else
          v->SetString("[redacted]", a);
      }
    }
  }
}

}  // namespace odrgw::gateway
