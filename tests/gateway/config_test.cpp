// The gateway's YAML configuration: the sample loads, defaults apply, and every kind of mistake
// stops start-up naming the key's JSON pointer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/embedded.hpp>
#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::gateway {
namespace {

namespace fs = std::filesystem;

const std::string key_a(64, 'a');
const std::string key_b(64, 'b');

// The config_error a text raises (fails the test when it loads).
config_error error_of(const std::string& yaml, const std::string& base = "/srv/odrgw") {
  try {
    parse_config(yaml, base);
  } catch (const config_error& e) {
    return e;
  }
  ADD_FAILURE() << "expected a config_error for:\n" << yaml;
  return config_error("", "");
}

std::string partner(const std::string& id, const std::string& extra = "",
                    const std::string& key = key_a) {
  return "  - id: " + id + "\n    role: merchant\n    api_key_sha256: " + key + "\n" + extra;
}

class temp_dir {
 public:
  temp_dir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("odrgw-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
};

TEST(Config, SampleConfigLoads) {
  const std::string file = std::string(ODRGW_SOURCE_DIR) + "/gateway/odrgw.sample.yaml";
  const config c = load_config(file);
  EXPECT_EQ(c.source, file);
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_FALSE(c.tls);
  EXPECT_EQ(c.threads, 0u);
  // Relative paths are resolved against the file's directory.
  const fs::path dir = fs::absolute(file).parent_path();
  EXPECT_EQ(c.sqlite_path, (dir / "var/odrgw.db").lexically_normal().string());
  EXPECT_EQ(c.pii_key_file, (dir / "var/pii.key").lexically_normal().string());
  EXPECT_EQ(c.limits.max_body_bytes, 1048576u);
  EXPECT_EQ(c.limits.max_header_bytes, 16384u);
  EXPECT_EQ(c.limits.read_timeout_ms, 10000u);
  EXPECT_EQ(c.limits.max_connections, 10000u);
  ASSERT_EQ(c.partners.size(), 5u);
  EXPECT_EQ(c.partners[0].id, "shop-1");
  EXPECT_EQ(c.partners[0].role, "merchant");
  EXPECT_EQ(c.partners[0].dialect, "canonical-json");
  // printf %s demo-key-shop-1 | sha256sum
  EXPECT_EQ(c.partners[0].api_key_sha256,
            "b61f1a076cd205d3072ab01ee64ae3e910046dd0ecc8c9f6b2423d57b41592fe");
  EXPECT_EQ(c.partners[1].role, "odr-provider");
  EXPECT_EQ(c.partners[1].dialect, "canonical-xml");
  // No endpoint on this machine to deliver to: the sample provider polls (scripts/demo.sh
  // delivers).
  EXPECT_TRUE(c.partners[1].callback_url.empty());
  EXPECT_EQ(c.partners[2].dialect, "paypal-disputes-v1");
  EXPECT_EQ(c.partners[3].dialect, "helpdesk-ticket-v1");
  EXPECT_EQ(c.partners[4].role, "auditor");
  EXPECT_EQ(c.partners[4].dialect, "canonical-json");  // the default
  EXPECT_TRUE(c.warnings.empty());
  // Every partner's dialect exists, the mapping ones in the configured directory.
  EXPECT_EQ(c.adapter_dir, (dir / "../adapters/dialects").lexically_normal().string());
  EXPECT_NO_THROW(load_adapters(c, schemas::schema_set::builtin()));
}

TEST(Config, EmptyFileGivesDefaults) {
  for (const char* text : {"", "# only a comment\n", "---\n"}) {
    const config c = parse_config(text, "/srv/odrgw");
    EXPECT_EQ(c.listen_host, "127.0.0.1");
    EXPECT_EQ(c.listen_port, 8080);
    EXPECT_FALSE(c.tls);
    EXPECT_EQ(c.threads, 0u);
    EXPECT_EQ(c.sqlite_path, "/srv/odrgw/var/odrgw.db");
    EXPECT_EQ(c.pii_key_file, "/srv/odrgw/var/pii.key");
    EXPECT_EQ(c.limits.max_body_bytes, 1u << 20);
    EXPECT_EQ(c.limits.max_header_bytes, 16u << 10);
    EXPECT_EQ(c.limits.read_timeout_ms, 10000u);
    EXPECT_EQ(c.limits.max_connections, 10000u);
    EXPECT_TRUE(c.partners.empty());
  }
}

TEST(Config, DefaultsFillWhatIsAbsent) {
  const config c = parse_config(
      "limits:\n  max_body_bytes: 2048\nstorage: {}\npartners:\n" + partner("p1"), "/b");
  EXPECT_EQ(c.limits.max_body_bytes, 2048u);
  EXPECT_EQ(c.limits.max_header_bytes, 16u << 10);
  EXPECT_EQ(c.limits.read_timeout_ms, 10000u);
  EXPECT_EQ(c.sqlite_path, "/b/var/odrgw.db");
  ASSERT_EQ(c.partners.size(), 1u);
  EXPECT_EQ(c.partners[0].dialect, "canonical-json");
  EXPECT_EQ(c.partners[0].client_cert_sha256, "");
  EXPECT_EQ(c.partners[0].callback_url, "");
}

TEST(Config, EveryKeySet) {
  const config c = parse_config(
      "listen: '[::1]:0'\nthreads: 3\nstorage: {sqlite: /data/o.db}\n"
      "limits: {max_body_bytes: 10, max_header_bytes: 2048, read_timeout_ms: 250, "
      "max_connections: 7}\n"
      "audit: {pii_key_file: keys/pii.key}\nadapters: {dir: dialects}\npartners:\n" +
          partner("p1", "    dialect: canonical-xml\n    callback_url: https://p1.example/cb\n"),
      "/etc/odrgw");
  EXPECT_EQ(c.adapter_dir, "/etc/odrgw/dialects");
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 0);
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.sqlite_path, "/data/o.db");
  EXPECT_EQ(c.pii_key_file, "/etc/odrgw/keys/pii.key");
  EXPECT_EQ(c.limits.max_body_bytes, 10u);
  EXPECT_EQ(c.limits.max_header_bytes, 2048u);
  EXPECT_EQ(c.limits.read_timeout_ms, 250u);
  EXPECT_EQ(c.limits.max_connections, 7u);
  EXPECT_EQ(c.partners[0].dialect, "canonical-xml");
  EXPECT_EQ(c.partners[0].callback_url, "https://p1.example/cb");
}

TEST(Config, UnknownTopLevelKeyNamesItsPath) {
  const auto e = error_of("lisen: 127.0.0.1:8080\n");
  EXPECT_EQ(e.path(), "/lisen");
  const std::string what = e.what();
  EXPECT_NE(what.find("/lisen: unknown key 'lisen'"), std::string::npos) << what;
  EXPECT_NE(what.find("did you mean 'listen'"), std::string::npos) << what;
  EXPECT_NE(what.find("(line 1, column 1)"), std::string::npos) << what;
}

TEST(Config, UnknownNestedKeyNamesItsPath) {
  EXPECT_EQ(error_of("limits:\n  max_body_byte: 5\n").path(), "/limits/max_body_byte");
  EXPECT_EQ(error_of("tls: {cert: a, key: b, ca: c}\n").path(), "/tls/ca");
  EXPECT_EQ(error_of("audit: {pii_key: x}\n").path(), "/audit/pii_key");
  const auto e = error_of("partners:\n" + partner("p1") + partner("p2", "    api_key: x\n", key_b));
  EXPECT_EQ(e.path(), "/partners/1/api_key");
  EXPECT_NE(std::string(e.what()).find("did you mean 'api_key_sha256'"), std::string::npos)
      << e.what();
}

TEST(Config, WrongTypeNamesThePath) {
  auto e = error_of("limits:\n  max_body_bytes: 1MiB\n");
  EXPECT_EQ(e.path(), "/limits/max_body_bytes");
  EXPECT_NE(std::string(e.what()).find("expected an integer, got '1MiB'"), std::string::npos)
      << e.what();
  // Quoted scalars are strings, always.
  EXPECT_EQ(error_of("threads: \"4\"\n").path(), "/threads");
  EXPECT_EQ(error_of("threads: 1.5\n").path(), "/threads");
  EXPECT_EQ(error_of("partners: {id: x}\n").path(), "/partners");
  EXPECT_EQ(error_of("limits: 5\n").path(), "/limits");
  EXPECT_EQ(error_of("tls:\n").path(), "/tls");  // null is not a mapping
  e = error_of("partners:\n" + partner("p1", "    callback_url:\n"));
  EXPECT_EQ(e.path(), "/partners/0/callback_url");
  EXPECT_NE(std::string(e.what()).find("got nothing"), std::string::npos) << e.what();
  EXPECT_EQ(error_of("listen: [1, 2]\n").path(), "/listen");
}

TEST(Config, BadEnumNamesThePath) {
  const auto e =
      error_of("partners:\n  - id: p1\n    role: merchnat\n    api_key_sha256: " + key_a);
  EXPECT_EQ(e.path(), "/partners/0/role");
  const std::string what = e.what();
  EXPECT_EQ(what.rfind("/partners/0/role: 'merchnat' is not one of the allowed values", 0), 0u)
      << what;
  EXPECT_NE(what.find("did you mean 'merchant'"), std::string::npos) << what;
  EXPECT_NE(what.find("odr-provider"), std::string::npos) << what;
  EXPECT_NE(what.find("(line 3, column 5)"), std::string::npos) << what;
}

TEST(Config, BadHexNamesThePath) {
  for (const std::string& bad : {std::string(64, 'A'), std::string(63, 'a'), std::string(65, 'a'),
                                 std::string(63, 'a') + "g", std::string("sha256:") + key_a}) {
    const auto e = error_of("partners:\n" + partner("p1", "", bad));
    EXPECT_EQ(e.path(), "/partners/0/api_key_sha256") << bad;
    EXPECT_NE(std::string(e.what()).find("64 lower-case hex digits"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(error_of("partners:\n" + partner("p1", "    client_cert_sha256: AB:CD\n")).path(),
            "/partners/0/client_cert_sha256");
}

TEST(Config, DigitsAreStringsWhereTheSchemaWantsStrings) {
  const std::string digits(64, '7');
  const config c = parse_config(
      "partners:\n  - id: 12345\n    role: merchant\n"
      "    api_key_sha256: " +
          digits + "\n",
      "/b");
  EXPECT_EQ(c.partners[0].id, "12345");
  EXPECT_EQ(c.partners[0].api_key_sha256, digits);
  // Explicit tags are obeyed.
  EXPECT_EQ(parse_config("threads: !!int 4\n", "/b").threads, 4u);
  EXPECT_EQ(error_of("threads: !!str 4\n").path(), "/threads");
}

TEST(Config, BadPartnerIdNamesThePath) {
  EXPECT_EQ(error_of("partners:\n" + partner("'has space'")).path(), "/partners/0/id");
  EXPECT_EQ(error_of("partners:\n" + partner("''")).path(), "/partners/0/id");
  // The gateway's own party id is reserved: its events are stored and deduplicated under it.
  const auto e = error_of("partners:\n" + partner("odrgw"));
  EXPECT_EQ(e.path(), "/partners/0/id");
  EXPECT_NE(std::string(e.what()).find("the gateway's own party id"), std::string::npos);
}

TEST(Config, DuplicatePartnerIdNamesTheSecond) {
  const auto e = error_of("partners:\n" + partner("p1") + partner("p2", "", key_b) +
                          partner("p1", "", std::string(64, 'c')));
  EXPECT_EQ(e.path(), "/partners/2/id");
  EXPECT_NE(std::string(e.what()).find("already used by /partners/0"), std::string::npos)
      << e.what();
}

TEST(Config, SharedCredentialsAreRefused) {
  EXPECT_EQ(error_of("partners:\n" + partner("p1") + partner("p2")).path(),
            "/partners/1/api_key_sha256");
}

TEST(Config, PartnerNeedsACredential) {
  auto e = error_of("partners:\n  - id: p1\n    role: merchant\n");
  EXPECT_EQ(e.path(), "/partners/0");
  EXPECT_NE(std::string(e.what()).find("no credential"), std::string::npos) << e.what();
  // A certificate alone needs client certificates to be requested.
  e = error_of("partners:\n  - id: p1\n    role: merchant\n    client_cert_sha256: " + key_a);
  EXPECT_EQ(e.path(), "/partners/0/client_cert_sha256");
  EXPECT_NE(std::string(e.what()).find("tls.client_ca"), std::string::npos) << e.what();
}

TEST(Config, MissingRequiredKeyNamesItsParent) {
  auto e = error_of("partners:\n  - id: p1\n    api_key_sha256: " + key_a);
  EXPECT_EQ(e.path(), "/partners/0");
  EXPECT_NE(std::string(e.what()).find("missing required key 'role'"), std::string::npos)
      << e.what();
  EXPECT_EQ(error_of("tls: {cert: a.pem}\n").path(), "/tls");
}

TEST(Config, BadListenNamesThePath) {
  for (const char* bad : {"localhost:8080", "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:http",
                          "::1:8080", "[::1]", "[zz]:80", "300.1.1.1:80", ":8080", "1.2.3.4:-1"}) {
    const auto e = error_of(std::string("listen: '") + bad + "'\n");
    EXPECT_EQ(e.path(), "/listen") << bad;
  }
  EXPECT_NE(std::string(error_of("listen: 127.0.0.1:70000\n").what()).find("0 to 65535"),
            std::string::npos);
  EXPECT_NE(std::string(error_of("listen: localhost:80\n").what()).find("IP address"),
            std::string::npos);
}

TEST(Config, ParseListen) {
  auto a = parse_listen("0.0.0.0:0");
  EXPECT_EQ(a.host, "0.0.0.0");
  EXPECT_EQ(a.port, 0);
  a = parse_listen("[::1]:8443");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 8443);
  a = parse_listen("[::]:65535");
  EXPECT_EQ(a.host, "::");
  EXPECT_EQ(a.port, 65535);
  try {
    parse_listen("nowhere", "--listen");
    FAIL();
  } catch (const config_error& e) {
    EXPECT_EQ(e.path(), "--listen");
  }
}

TEST(Config, NumbersOutOfRangeNameThePath) {
  auto e = error_of("limits: {max_connections: 0}\n");
  EXPECT_EQ(e.path(), "/limits/max_connections");
  EXPECT_NE(std::string(e.what()).find("0 is below the minimum 1"), std::string::npos) << e.what();
  EXPECT_EQ(error_of("threads: -1\n").path(), "/threads");
  EXPECT_EQ(error_of("threads: 99999999999999999999999\n").path(), "/threads");
  EXPECT_EQ(error_of("limits: {max_body_bytes: 1073741825}\n").path(), "/limits/max_body_bytes");
  EXPECT_EQ(error_of("limits: {max_header_bytes: 100}\n").path(), "/limits/max_header_bytes");
}

TEST(Config, YamlSyntaxErrorHasLineAndColumn) {
  auto e = error_of("threads: 1\n limits: 2\n");
  EXPECT_EQ(e.path(), "");
  std::string what = e.what();
  EXPECT_NE(what.find("line 2, column 8: YAML syntax error"), std::string::npos) << what;
  e = error_of("partners: [\n");
  EXPECT_NE(std::string(e.what()).find("YAML syntax error"), std::string::npos) << e.what();
}

TEST(Config, YamlSyntaxErrorNamesTheFile) {
  temp_dir d;
  const auto f = d.write("bad.yaml", "listen: 127.0.0.1:8080\npartners: [a\n");
  try {
    load_config(f.string());
    FAIL();
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find(f.string() + ":"), std::string::npos) << e.what();
  }
}

TEST(Config, DuplicateYamlKeyIsAnError) {
  EXPECT_EQ(error_of("threads: 1\nthreads: 2\n").path(), "/threads");
  EXPECT_EQ(error_of("limits:\n  read_timeout_ms: 1\n  read_timeout_ms: 2\n").path(),
            "/limits/read_timeout_ms");
}

TEST(Config, OddYamlIsRefusedCleanly) {
  EXPECT_EQ(error_of("- a\n- b\n").path(), "");                     // not a mapping
  EXPECT_EQ(error_of("threads: 1\n---\nthreads: 2\n").path(), "");  // two documents
  EXPECT_EQ(error_of("? [a]\n: 1\n").path(), "");                   // a key that is a list
  error_of("x: &a [*a]\n");                                         // an alias cycle
  EXPECT_EQ(error_of("threads: !!binary aGk=\n").path(), "/threads");
}

TEST(Config, FirstErrorInFileOrderAndTheRestListed) {
  const auto e = error_of("threads: x\nlimits: {max_connections: 0}\nbogus: 1\n");
  EXPECT_EQ(e.path(), "/threads");
  const std::string what = e.what();
  EXPECT_NE(what.find("\n  /limits/max_connections: "), std::string::npos) << what;
  EXPECT_NE(what.find("\n  /bogus: unknown key"), std::string::npos) << what;
}

TEST(Config, RelativePathsAreResolvedAgainstTheFile) {
  temp_dir d;
  d.write("server.pem", "x");
  d.write("server.key", "x");
  fs::create_directories(d.path() / "tls");
  d.write("tls/ca.pem", "x");
  const auto f =
      d.write("odrgw.yaml",
              "tls: {cert: server.pem, key: ./server.key, client_ca: tls/../tls/ca.pem}\n"
              "storage: {sqlite: data/odrgw.db}\n"
              "partners:\n  - id: p1\n    role: platform\n    client_cert_sha256: " +
                  key_a + "\n");
  const config c = load_config(f.string());
  ASSERT_TRUE(c.tls);
  EXPECT_EQ(c.tls->cert, (d.path() / "server.pem").string());
  EXPECT_EQ(c.tls->key, (d.path() / "server.key").string());
  EXPECT_EQ(c.tls->client_ca, (d.path() / "tls/ca.pem").string());
  EXPECT_EQ(c.sqlite_path, (d.path() / "data/odrgw.db").string());
  EXPECT_EQ(c.pii_key_file, (d.path() / "var/pii.key").string());
  EXPECT_EQ(c.partners[0].client_cert_sha256, key_a);
}

TEST(Config, UnreadableTlsFileNamesItsKey) {
  temp_dir d;
  d.write("server.pem", "x");
  auto e = error_of("tls: {cert: server.pem, key: missing.key}\n", d.path().string());
  EXPECT_EQ(e.path(), "/tls/key");
  EXPECT_NE(std::string(e.what()).find((d.path() / "missing.key").string()), std::string::npos)
      << e.what();
  e = error_of("tls: {cert: ., key: missing.key}\n", d.path().string());
  EXPECT_EQ(e.path(), "/tls/cert");
}

TEST(Config, MissingFileIsAConfigError) {
  try {
    load_config("/nonexistent/odrgw.yaml");
    FAIL();
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/odrgw.yaml"), std::string::npos);
  }
}

TEST(Config, WarnsAboutPlainHttpOffLoopback) {
  EXPECT_EQ(parse_config("listen: 0.0.0.0:8080\n", "/b").warnings.size(), 1u);
  EXPECT_TRUE(parse_config("listen: '[::1]:8080'\n", "/b").warnings.empty());
  EXPECT_EQ(
      parse_config("partners:\n" + partner("p1", "    client_cert_sha256: " + key_b + "\n"), "/b")
          .warnings.size(),
      1u);
}

TEST(Config, CallbackSecretsDeliveryAndCaseClock) {
  temp_dir d;
  d.write("good.secret", "0123456789abcdef0123\n");
  d.write("short.secret", "short\n");
  const std::string cb = "    callback_url: http://127.0.0.1:9/x\n";
  config c = parse_config(
      "delivery: {workers: 3, max_attempts: 5, backoff_initial_ms: 20, backoff_max_ms: 90,\n"
      "  per_partner_concurrency: 1, timeout_ms: 700}\n"
      "routing: {clock_scale: 86400, timer_interval_ms: 25}\n"
      "partners:\n" +
          partner("p1", cb + "    callback_secret_file: good.secret\n") + partner("p2", cb, key_b),
      d.path().string());
  EXPECT_EQ(c.partners[0].callback_secret, "0123456789abcdef0123");  // trailing newline dropped
  EXPECT_EQ(c.delivery.workers, 3u);
  EXPECT_EQ(c.delivery.max_attempts, 5u);
  EXPECT_EQ(c.delivery.backoff_initial_ms, 20u);
  EXPECT_EQ(c.delivery.backoff_max_ms, 90u);
  EXPECT_EQ(c.delivery.per_partner_concurrency, 1u);
  EXPECT_EQ(c.delivery.timeout_ms, 700u);
  EXPECT_EQ(c.clock_scale, 86400);
  EXPECT_EQ(c.timer_interval_ms, 25u);
  // p2 has a callback_url without a secret: its deliveries go unsigned, which start-up says.
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("/partners/1/callback_secret_file"), std::string::npos);
  for (const std::string& bad : {std::string("short.secret"), std::string("missing.secret")}) {
    try {
      parse_config("partners:\n" + partner("p1", cb + "    callback_secret_file: " + bad + "\n"),
                   d.path().string());
      ADD_FAILURE() << bad;
    } catch (const config_error& e) {
      EXPECT_EQ(e.path(), "/partners/0/callback_secret_file") << e.what();
    }
  }
  EXPECT_THROW(parse_config("routing: {clock_scale: 0.5}\n", "/b"), config_error);
  EXPECT_THROW(parse_config("delivery: {workers: 0}\n", "/b"), config_error);
}

TEST(Config, AdapterDirectoryLoadsMappingDialectsOrNamesTheProblem) {
  const auto set = schemas::schema_set::builtin();
  const std::string dialects = std::string(ODRGW_SOURCE_DIR) + "/adapters/dialects";
  config c = parse_config("adapters: {dir: " + dialects + "}\npartners:\n" +
                              partner("p1", "    dialect: provider-xml-v1\n"),
                          "/b");
  const auto reg = load_adapters(c, set);
  EXPECT_NE(reg.find("helpdesk-ticket-v1"), nullptr);
  EXPECT_NE(reg.find("canonical-json"), nullptr);
  // Without the directory the partner's dialect is unknown.
  c.adapter_dir.clear();
  EXPECT_THROW(load_adapters(c, set), config_error);
  c.adapter_dir = "/nonexistent/dialects";
  try {
    load_adapters(c, set);
    FAIL();
  } catch (const config_error& e) {
    EXPECT_EQ(e.path(), "/adapters/dir");
  }
}

TEST(Config, UnknownDialectNamesThePath) {
  const config c = parse_config(
      "partners:\n" + partner("p1") + partner("p2", "    dialect: canonical-jsn\n", key_b), "/b");
  const auto reg = adapters::registry::builtin(schemas::schema_set::builtin());
  try {
    check_dialects(c, reg);
    FAIL();
  } catch (const config_error& e) {
    EXPECT_EQ(e.path(), "/partners/1/dialect");
    EXPECT_NE(std::string(e.what()).find("did you mean 'canonical-json'"), std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(check_dialects(parse_config("partners:\n" + partner("p1"), "/b"), reg));
}

// The schema is embedded, and (STYLE.md) every object in it refuses unknown keys.
TEST(Config, EmbeddedSchemaClosesEveryObject) {
  rapidjson::Document d;
  schemas::json_error err;
  ASSERT_TRUE(schemas::parse_json(config_schema(), d, {}, err)) << err.message;
  int objects = 0;
  std::function<void(const rapidjson::Value&, const std::string&)> walk =
      [&](const rapidjson::Value& v, const std::string& at) {
        if (v.IsObject()) {
          if (auto t = v.FindMember("type");
              t != v.MemberEnd() && t->value.IsString() && t->value == "object") {
            ++objects;
            auto ap = v.FindMember("additionalProperties");
            EXPECT_TRUE(ap != v.MemberEnd() && ap->value.IsFalse()) << at;
          }
          for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m)
            walk(m->value, at + "/" + m->name.GetString());
        } else if (v.IsArray()) {
          for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
            walk(v[i], at + "/" + std::to_string(i));
        }
      };
  walk(d, "");
  EXPECT_GE(objects, 6);
  std::string error;
  EXPECT_TRUE(schemas::json_schema_validator::load(config_schema(), error)) << error;
}

TEST(Config, EmbeddedOpenApiIsServed) {
  const std::string_view text = embedded::gateway::find("openapi.json");
  rapidjson::Document d;
  schemas::json_error err;
  ASSERT_TRUE(schemas::parse_json(text, d, {}, err)) << err.message;
  EXPECT_STREQ(d["openapi"].GetString(), "3.1.0");
  for (const char* p :
       {"/v1/messages", "/v1/cases/{caseId}", "/v1/schemas", "/v1/schemas/{messageType}.json",
        "/v1/schemas/{messageType}.xsd", "/healthz", "/readyz", "/metrics", "/openapi.json"})
    EXPECT_TRUE(d["paths"].HasMember(p)) << p;
  const auto& post = d["paths"]["/v1/messages"]["post"]["responses"];
  for (const char* s : {"200", "202", "400", "401", "403", "409", "413", "415", "422"})
    EXPECT_TRUE(post.HasMember(s)) << s;
}

}  // namespace
}  // namespace odrgw::gateway
