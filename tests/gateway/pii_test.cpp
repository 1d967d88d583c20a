// Personal-data protection: AES-256-GCM tokens, the key file, protect/reveal along the v1 model,
// and no personal data in clear in the SQLite files.
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "test_files.hpp"

#include <odrgw/gateway/pii.hpp>
#include <odrgw/gateway/storage.hpp>
#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::gateway {
namespace {

namespace fs = std::filesystem;
using test::slurp;
struct temp_dir : test::temp_dir {
  temp_dir() : test::temp_dir("pii") {}
};

pii_key test_key(std::uint8_t fill) {
  std::array<std::uint8_t, 32> b{};
  b.fill(fill);
  return pii_key::from_bytes(b);
}

rapidjson::Document parse(std::string_view s) {
  rapidjson::Document d;
  schemas::json_error err;
  EXPECT_TRUE(schemas::parse_json(s, d, {}, err)) << err.message;
  return d;
}

std::string application() {
  return slurp(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid/dispute.application.json");
}

mode_t file_mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

// ---- tokens -----------------------------------------------------------------------------------

TEST(Pii, SealOpenRoundTrip) {
  const auto key = test_key(1);
  EXPECT_EQ(key.key_id().size(), 8u);
  for (const std::string& s :
       {std::string(), std::string("Anna Schmidt"), std::string("Zoë 张伟 \"quoted\"\n"),
        std::string(100000, 'x'), std::string("\0bin\0", 5)}) {
    const auto token = key.seal(s);
    EXPECT_TRUE(is_sealed(token));
    EXPECT_TRUE(token.starts_with("odrgw-pii:v1:" + key.key_id() + ":")) << token;
    EXPECT_EQ(token.find(' '), std::string::npos);
    const auto back = key.open(token);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, s);
  }
  // A fresh nonce each time: the same value never gives the same token.
  EXPECT_NE(key.seal("Anna Schmidt"), key.seal("Anna Schmidt"));
  EXPECT_FALSE(is_sealed("Anna Schmidt"));
  EXPECT_FALSE(key.open("Anna Schmidt"));
}

TEST(Pii, WrongKeyGivesNothing) {
  const auto token = test_key(1).seal("anna.schmidt@example.de");
  EXPECT_FALSE(test_key(2).open(token));
  // Even with the key id patched in, the tag does not verify.
  const auto other = test_key(2);
  std::string forged = token;
  forged.replace(13, 8, other.key_id());
  EXPECT_FALSE(other.open(forged));
}

TEST(Pii, TamperedTokensGiveNothing) {
  const auto key = test_key(3);
  const auto token = key.seal("anna.schmidt@example.de");
  const auto b64 = token.find(':', 13) + 1;
  for (std::size_t i = b64; i < token.size(); i += 7) {
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(key.open(t)) << "flipped at " << i;
  }
  EXPECT_FALSE(key.open(token.substr(0, token.size() - 4)));  // truncated
  EXPECT_FALSE(key.open(token + "AAAA"));                     // extended
  EXPECT_FALSE(key.open(token.substr(0, b64) + "!!!!"));      // not base64
  EXPECT_FALSE(key.open(token.substr(0, b64)));               // empty
  EXPECT_FALSE(key.open(token.substr(0, b64) + "AAAA"));      // too short
  // The JSON marker is authenticated: it cannot be added or removed.
  const auto j = key.seal_json(R"({"a":1})");
  EXPECT_NE(j.find(":j:"), std::string::npos);
  ASSERT_TRUE(key.open_token(j));
  EXPECT_TRUE(key.open_token(j)->json);
  std::string unmarked = j;
  unmarked.erase(unmarked.find(":j:") + 1, 2);
  EXPECT_FALSE(key.open(unmarked));
  std::string marked = token;
  marked.insert(b64, "j:");
  EXPECT_FALSE(key.open(marked));
}

// ---- the key file -----------------------------------------------------------------------------

TEST(PiiKeyFile, CreatedWithMode0600AndReloaded) {
  temp_dir dir;
  const fs::path file = dir.path / "a" / "b" / "pii.key";
  const auto k1 = pii_key::load_or_create(file.string());
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(file_mode(file), 0600u);
  EXPECT_EQ(file_mode(dir.path / "a" / "b"), 0700u);
  EXPECT_EQ(slurp(file).size(), 65u);  // 64 hex digits and a newline
  const auto k2 = pii_key::load_or_create(file.string());
  EXPECT_EQ(k1.key_id(), k2.key_id());
  EXPECT_EQ(k2.open(k1.seal("x")), "x");
  EXPECT_EQ(pii_key::load(file.string()).key_id(), k1.key_id());
  // Two files, two keys.
  EXPECT_NE(pii_key::load_or_create((dir.path / "other.key").string()).key_id(), k1.key_id());
}

TEST(PiiKeyFile, WiderPermissionsAreRefused) {
  temp_dir dir;
  const fs::path file = dir.path / "pii.key";
  pii_key::load_or_create(file.string());
  for (const mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    try {
      pii_key::load_or_create(file.string());
      ADD_FAILURE() << "mode " << std::oct << mode << " accepted";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(file.string()), std::string::npos) << what;
      EXPECT_NE(what.find("chmod 600"), std::string::npos) << what;
    }
  }
  ASSERT_EQ(::chmod(file.c_str(), 0400), 0);
  EXPECT_NO_THROW(pii_key::load(file.string()));
}

TEST(PiiKeyFile, FormatsAndBadContent) {
  temp_dir dir;
  auto write = [&](const std::string& name, const std::string& content) {
    const auto p = dir.path / name;
    std::ofstream(p, std::ios::binary) << content;
    ::chmod(p.c_str(), 0600);
    return p.string();
  };
  std::array<std::uint8_t, 32> raw{};
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>(i * 7);
  const auto expected = pii_key::from_bytes(raw).key_id();
  EXPECT_EQ(pii_key::load(write("raw.key", std::string(raw.begin(), raw.end()))).key_id(),
            expected);
  std::string hex;
  for (auto b : raw) {
    char h[3];
    std::snprintf(h, sizeof h, "%02X", b);
    hex += h;
  }
  EXPECT_EQ(pii_key::load(write("hex.key", hex + "\n")).key_id(), expected);
  EXPECT_THROW(pii_key::load(write("short.key", "abc")), std::runtime_error);
  EXPECT_THROW(pii_key::load(write("bad.key", std::string(64, 'g'))), std::runtime_error);
  EXPECT_THROW(pii_key::load(write("empty.key", "")), std::runtime_error);
  EXPECT_THROW(pii_key::load((dir.path / "missing.key").string()), std::runtime_error);
  EXPECT_THROW(pii_key::load_or_create(dir.path.string()), std::runtime_error);  // a directory
  EXPECT_THROW(pii_key::load_or_create(""), std::runtime_error);
  EXPECT_FALSE(fs::exists(dir.path / "missing.key"));
}

// ---- protect / reveal -------------------------------------------------------------------------

class Protect : public ::testing::Test {
 protected:
  const schemas::node& root() {
    return *schemas::schema_set::builtin()->model().find("dispute.application")->root;
  }
  pii_key key = test_key(9);
};

TEST_F(Protect, NoPersonalDataInClearAndRevealRestores) {
  const auto original = parse(application());
  auto doc = parse(application());
  protect(root(), doc, doc.GetAllocator(), key);
  const std::string out = schemas::to_json_string(doc);
  for (const char* clear :
       {"Anna Schmidt", "anna.schmidt@example.de", "+4930123456789", "Lindenstrasse",
        "gb-user-88213406", "disputes@brightway.example.cn", "Xiamen Brightway", "leaks water"})
    EXPECT_EQ(out.find(clear), std::string::npos) << clear << " in clear:\n" << out;
  // What is not personal data stays readable (routing needs it).
  EXPECT_EQ(std::string(doc["messageId"].GetString()), original["messageId"].GetString());
  EXPECT_EQ(std::string(doc["sender"]["partyId"].GetString()), "consumer-4711");
  EXPECT_EQ(std::string(doc["payload"]["category"].GetString()), "defective");
  EXPECT_EQ(std::string(doc["payload"]["goodsOrService"]["subjectKind"].GetString()), "goods");
  // Whole objects marked as personal data are sealed as one token (the parties, here), strings
  // one by one (the complaint's description is free text).
  EXPECT_TRUE(is_sealed(doc["payload"]["complainant"].GetString()));
  EXPECT_TRUE(is_sealed(doc["payload"]["respondent"].GetString()));
  EXPECT_TRUE(is_sealed(doc["payload"]["description"].GetString()));

  // Protecting again seals again (input is never taken as "already sealed"): one reveal gives
  // back the once-protected document; reveal restores an equal document.
  auto twice = parse(out);
  protect(root(), twice, twice.GetAllocator(), key);
  EXPECT_NE(schemas::to_json_string(twice), out);
  reveal(twice, twice.GetAllocator(), &key);
  EXPECT_EQ(schemas::to_json_string(twice), out);
  auto revealed = parse(out);
  reveal(revealed, revealed.GetAllocator(), &key);
  EXPECT_EQ(revealed, original);
  // And the revealed document is still valid.
  schemas::report r;
  schemas::schema_set::builtin()->validate_json(revealed, "", r);
  EXPECT_TRUE(r.valid());

  // Without a key (or with another): "[redacted]", the structure otherwise kept.
  auto redacted = parse(out);
  reveal(redacted, redacted.GetAllocator(), nullptr);
  EXPECT_EQ(std::string(redacted["payload"]["complainant"].GetString()), "[redacted]");
  EXPECT_EQ(std::string(redacted["payload"]["description"].GetString()), "[redacted]");
  EXPECT_EQ(std::string(redacted["payload"]["category"].GetString()), "defective");
  auto wrong = parse(out);
  const auto other = test_key(10);
  reveal(wrong, wrong.GetAllocator(), &other);
  EXPECT_EQ(std::string(wrong["payload"]["complainant"].GetString()), "[redacted]");
}

TEST_F(Protect, TokenLookingInputIsSealedNotTrusted) {
  // A sender puts text shaped like a token into personal-data fields: a genuine token of ours
  // copied from elsewhere, a token of another key, and garbage with the prefix. Each must be
  // sealed like any other value, and come back verbatim (as the sender's text) on reveal.
  const std::string ours = key.seal("someone else's address");
  const std::string foreign = test_key(42).seal("x");
  const std::string garbage = "odrgw-pii:v1:" + key.key_id() + ":not-base64";
  auto doc = parse(application());
  auto& p = doc["payload"];
  p["description"].SetString(ours, doc.GetAllocator());
  p["complainant"].SetString(foreign, doc.GetAllocator());
  p["respondent"].SetString(garbage, doc.GetAllocator());
  protect(root(), doc, doc.GetAllocator(), key);
  const std::string out = schemas::to_json_string(doc);
  for (const std::string& text : {ours, foreign, garbage})
    EXPECT_EQ(out.find(text), std::string::npos) << text << " stored as the sender wrote it";
  for (const char* field : {"description", "complainant", "respondent"})
    EXPECT_TRUE(is_sealed(p[field].GetString())) << field;
  reveal(doc, doc.GetAllocator(), &key);
  EXPECT_EQ(std::string(p["description"].GetString()), ours);
  EXPECT_EQ(std::string(p["complainant"].GetString()), foreign);
  EXPECT_EQ(std::string(p["respondent"].GetString()), garbage);
}

TEST(Pii, NoncesNeverRepeat) {
  // Counter-based nonces: the 12 bytes after the header are unique across many seals, also when
  // one thread alternates between two keys.
  const auto k1 = test_key(1), k2 = test_key(2);
  std::set<std::string> nonces;
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) {
    const auto& k = i % 3 == 0 ? k2 : k1;
    const std::string t = k.seal("v");
    const std::string b64 = t.substr(t.rfind(':') + 1);
    std::string raw(b64.size(), '\0');
    const int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                    reinterpret_cast<const unsigned char*>(b64.data()),
                                    static_cast<int>(b64.size()));
    ASSERT_GE(len, 12);
    nonces.insert(k.key_id() + raw.substr(0, 12));
    ASSERT_EQ(k.open(t), "v");
  }
  EXPECT_EQ(nonces.size(), static_cast<std::size_t>(n));
}

TEST_F(Protect, EveryExampleRoundTrips) {
  const auto& model = schemas::schema_set::builtin()->model();
  int n = 0;
  for (const auto& e :
       fs::directory_iterator(fs::path(ODRGW_SOURCE_DIR) / "schemas/v1/examples/valid")) {
    if (e.path().extension() != ".json") continue;
    const auto original = parse(slurp(e.path()));
    const auto* def = model.find(original["messageType"].GetString());
    ASSERT_NE(def, nullptr) << e.path();
    auto doc = parse(slurp(e.path()));
    protect(*def->root, doc, doc.GetAllocator(), key);
    reveal(doc, doc.GetAllocator(), &key);
    EXPECT_EQ(doc, original) << e.path();
    ++n;
  }
  EXPECT_GT(n, 20);
}

TEST_F(Protect, HostileDocumentsDoNotCrash) {
  // Values of unexpected types, unknown members, sealed-looking garbage.
  auto doc = parse(R"({"payload":{"complainant":{"name":{"x":[1,2]}},"respondent":null,
    "description":{"x":[1]},"evidence":"odrgw-pii:v1:00000000:!!","goodsOrService":"text",
    "languages":{"a":"Anna"},"unknown":"Anna"},"messageId":7,"sender":[]})");
  protect(root(), doc, doc.GetAllocator(), key);
  auto& p = doc["payload"];
  EXPECT_TRUE(is_sealed(p["complainant"].GetString()));
  EXPECT_TRUE(p["respondent"].IsNull());
  EXPECT_TRUE(is_sealed(p["description"].GetString()));
  EXPECT_EQ(std::string(p["goodsOrService"].GetString()), "text");
  reveal(doc, doc.GetAllocator(), &key);
  EXPECT_TRUE(p["complainant"]["name"].IsObject());
  EXPECT_EQ(p["description"]["x"][0].GetInt(), 1);
  // Sealed like any value (never taken as "already sealed"): it comes back as the sender's text.
  EXPECT_EQ(std::string(p["evidence"].GetString()), "odrgw-pii:v1:00000000:!!");
  EXPECT_EQ(std::string(p["unknown"].GetString()), "Anna");
  EXPECT_EQ(std::string(p["languages"]["a"].GetString()), "Anna");
  // A document that is not an object at all.
  rapidjson::Document scalar;
  scalar.SetInt(5);
  protect(root(), scalar, scalar.GetAllocator(), key);
  reveal(scalar, scalar.GetAllocator(), nullptr);
  EXPECT_EQ(scalar.GetInt(), 5);
}

// ---- at rest ----------------------------------------------------------------------------------

TEST_F(Protect, NoPersonalDataInClearInTheDatabaseFiles) {
  temp_dir dir;
  const std::string db = (dir.path / "odrgw.db").string();
  auto doc = parse(application());
  protect(root(), doc, doc.GetAllocator(), key);
  inbound_message m;
  m.sender_party = "platform-gb";
  m.message_id = doc["messageId"].GetString();
  m.message_type = "dispute.application";
  m.canonical_json = schemas::to_json_string(doc);
  m.body_sha256 = std::string(64, '1');
  // The audit record holds the (protected) message too.
  m.audit_json = R"({"verdict":"accepted","message":)" + m.canonical_json + "}";
  auto st = open_sqlite({db});
  const auto r = st->store_message_sync(m);
  ASSERT_EQ(r.status, store_status::stored) << r.error;

  auto files = [&] { return slurp(db) + slurp(db + "-wal"); };
  auto check = [&](const std::string& bytes, const char* when) {
    ASSERT_GT(bytes.size(), 16384u) << when;
    EXPECT_NE(bytes.find(m.message_id), std::string::npos) << when << ": the row is not there";
    for (const char* clear : {"Anna Schmidt", "anna.schmidt@example.de", "Lindenstrasse"})
      EXPECT_EQ(bytes.find(clear), std::string::npos) << clear << " in clear " << when;
  };
  check(files(), "while open (database + WAL)");
  st->close();  // checkpoints the WAL into the database file
  check(files(), "after close");

  // The stored message reveals to the original with the key.
  auto st2 = open_sqlite({db});
  auto view = st2->get_case(r.rec.case_id);
  ASSERT_TRUE(view);
  auto stored = parse(view->messages.at(0).canonical_json);
  reveal(stored, stored.GetAllocator(), &key);
  EXPECT_EQ(std::string(stored["payload"]["complainant"]["name"].GetString()), "Anna Schmidt");
  stored.RemoveMember("caseId");
  stored.RemoveMember("proceedingId");
  EXPECT_EQ(stored, parse(application()));
}

}  // namespace
}  // namespace odrgw::gateway
