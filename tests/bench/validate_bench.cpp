// odrgw_bench: how fast odrgw reads, validates and translates one ODR Interchange v1 message
// (schemas/v1/examples/valid/dispute.application.{json,xml}), on each path a message can take.
// tests/bench/run.sh sets these figures beside ajv (JSON) and xmllint (XML); README.md says how to
// read them.
//
// The message files are found in, by precedence: --data=DIR, $ODRGW_BENCH_DATA, then the source
// tree (ODRGW_BENCH_DATA_DIR). DIR is laid out like schemas/v1: examples/valid/, json/, xsd/.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include <odrgw/adapters/canonical.hpp>
#include <odrgw/schemas/validator.hpp>

namespace {

namespace schemas = odrgw::schemas;
namespace adapters = odrgw::adapters;

constexpr std::string_view message_type = "dispute.application";

// Everything a benchmark needs, built once before any of them runs; read-only afterwards, so the
// threaded benchmarks share it.
struct fixture {
  std::string json;         // the message, JSON encoding
  std::string xml;          // the same message, XML encoding
  std::string json_schema;  // the published per-type draft-07 schema (what ajv loads too)
  std::string xsd;          // the published per-type XSD (what xmllint loads)
  std::shared_ptr<const schemas::schema_set> set;
  std::unique_ptr<schemas::json_schema_validator> valijson;
  std::unique_ptr<adapters::canonical_json> canonical_json;
  std::unique_ptr<adapters::canonical_xml> canonical_xml;
};

const fixture* fx = nullptr;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string describe(const schemas::report& r) {
  std::string s(schemas::to_string(r.status));
  for (const auto& e : r.errors) s += "; " + e.location + " [" + e.rule + "] " + e.message;
  return s;
}

void expect_valid(const schemas::report& r, std::string_view what) {
  if (!r.valid())
    throw std::runtime_error(std::string(what) +
                             ": the benchmark message is not valid: " + describe(r));
}

std::unique_ptr<fixture> load(const std::string& dir) {
  auto f = std::make_unique<fixture>();
  const std::string type(message_type);
  f->json = read_file(dir + "/examples/valid/" + type + ".json");
  f->xml = read_file(dir + "/examples/valid/" + type + ".xml");
  f->json_schema = read_file(dir + "/json/" + type + ".schema.json");
  f->xsd = read_file(dir + "/xsd/" + type + ".xsd");
  f->set = schemas::schema_set::builtin();
  std::string error;
  f->valijson = schemas::json_schema_validator::load(f->json_schema, error);
  if (!f->valijson) throw std::runtime_error("valijson cannot load the published schema: " + error);
  f->canonical_json = std::make_unique<adapters::canonical_json>(f->set);
  f->canonical_xml = std::make_unique<adapters::canonical_xml>(f->set);

  // Every path must accept the message, or it would time an early exit.
  expect_valid(f->set->validate(f->json), "fast path (JSON)");
  expect_valid(f->set->validate(f->xml), "XSD path (XML)");
  {
    rapidjson::Document doc;
    schemas::json_error err;
    if (!schemas::parse_json(f->json, doc, {}, err))
      throw std::runtime_error("the benchmark message does not parse: " + err.message);
    schemas::report r;
    f->valijson->validate(doc, r);
    expect_valid(r, "valijson path");
  }
  for (const bool to_xml : {true, false}) {
    std::string out;
    schemas::report r;
    const bool ok =
        to_xml ? adapters::translate(*f->canonical_json, *f->canonical_xml, f->json, out, r)
               : adapters::translate(*f->canonical_xml, *f->canonical_json, f->xml, out, r);
    if (!ok) expect_valid(r, to_xml ? "translation JSON -> XML" : "translation XML -> JSON");
  }

  // The compiled paths use the schemas built into the binary; the reference engines read the
  // published files. Say so when the two have drifted apart (then the comparison is unfair).
  const std::string* built_json = f->set->json_schema_text(message_type);
  const std::string* built_xsd = f->set->xsd_text(message_type);
  const bool same =
      built_json && built_xsd && *built_json == f->json_schema && *built_xsd == f->xsd;
  benchmark::AddCustomContext("published_schemas_match_builtin", same ? "yes" : "no");
  if (!same)
    std::cerr << "warning: the published schemas in " << dir
              << " differ from the built-in ones; regenerate them (odrgw schemas export)\n";
  benchmark::AddCustomContext("message_type", type);
  benchmark::AddCustomContext("message_json_bytes", std::to_string(f->json.size()));
  benchmark::AddCustomContext("message_xml_bytes", std::to_string(f->xml.size()));
  benchmark::AddCustomContext("data_dir", dir);
  return f;
}

// One message per iteration: items/s is messages/s; bytes/s counts the input encoding.
void count(benchmark::State& state, std::size_t bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

// ---- JSON -------------------------------------------------------------------------------------

void BM_json_parse(benchmark::State& state) {
  const schemas::json_limits limits;
  for (auto _ : state) {
    rapidjson::Document doc;
    schemas::json_error err;
    const bool ok = schemas::parse_json(fx->json, doc, limits, err);
    benchmark::DoNotOptimize(ok);
  }
  count(state, fx->json.size());
}

// The headline: bytes in, report out, as the gateway does for every JSON message.
void BM_json_validate_fast(benchmark::State& state) {
  for (auto _ : state) {
    const schemas::report r = fx->set->validate(fx->json);
    if (!r.valid()) {
      state.SkipWithError("the message did not validate");
      break;
    }
  }
  count(state, fx->json.size());
}

// The reference engine: valijson on the published per-type schema, after the same parse.
void BM_json_validate_valijson(benchmark::State& state) {
  const schemas::json_limits limits;
  for (auto _ : state) {
    rapidjson::Document doc;
    schemas::json_error err;
    schemas::report r;
    if (schemas::parse_json(fx->json, doc, limits, err)) fx->valijson->validate(doc, r);
    if (!r.valid()) {
      state.SkipWithError("the message did not validate");
      break;
    }
  }
  count(state, fx->json.size());
}

// The two engines without the parse, on one parsed document: where the time goes.
void BM_json_validate_only_fast(benchmark::State& state) {
  rapidjson::Document doc;
  schemas::json_error err;
  if (!schemas::parse_json(fx->json, doc, {}, err)) state.SkipWithError("parse failed");
  for (auto _ : state) {
    schemas::report r;
    fx->set->validate_json(doc, "", r);
    benchmark::DoNotOptimize(r.status);
  }
  count(state, fx->json.size());
}

void BM_json_validate_only_valijson(benchmark::State& state) {
  rapidjson::Document doc;
  schemas::json_error err;
  if (!schemas::parse_json(fx->json, doc, {}, err)) state.SkipWithError("parse failed");
  for (auto _ : state) {
    schemas::report r;
    fx->valijson->validate(doc, r);
    benchmark::DoNotOptimize(r.status);
  }
  count(state, fx->json.size());
}

// ---- XML --------------------------------------------------------------------------------------

void BM_xml_parse(benchmark::State& state) {
  const schemas::xml_limits limits;
  for (auto _ : state) {
    schemas::issue err;
    schemas::xml_doc_ptr doc = schemas::parse_xml(fx->xml, limits, err);
    benchmark::DoNotOptimize(doc.get());
  }
  count(state, fx->xml.size());
}

void BM_xml_validate(benchmark::State& state) {
  for (auto _ : state) {
    const schemas::report r = fx->set->validate(fx->xml);
    if (!r.valid()) {
      state.SkipWithError("the message did not validate");
      break;
    }
  }
  count(state, fx->xml.size());
}

void BM_xml_validate_only(benchmark::State& state) {
  schemas::issue err;
  schemas::xml_doc_ptr doc = schemas::parse_xml(fx->xml, {}, err);
  if (!doc) state.SkipWithError("parse failed");
  for (auto _ : state) {
    schemas::report r;
    fx->set->validate_xml(doc.get(), "", r);
    benchmark::DoNotOptimize(r.status);
  }
  count(state, fx->xml.size());
}

// ---- translation (each side is validated: the input on the way in, the output on the way out) -

void BM_translate_json_to_xml(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    schemas::report r;
    if (!adapters::translate(*fx->canonical_json, *fx->canonical_xml, fx->json, out, r)) {
      state.SkipWithError("translation failed");
      break;
    }
  }
  count(state, fx->json.size());
}

void BM_translate_xml_to_json(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    schemas::report r;
    if (!adapters::translate(*fx->canonical_xml, *fx->canonical_json, fx->xml, out, r)) {
      state.SkipWithError("translation failed");
      break;
    }
  }
  count(state, fx->xml.size());
}

BENCHMARK(BM_json_parse);
BENCHMARK(BM_json_validate_fast);
BENCHMARK(BM_json_validate_valijson);
BENCHMARK(BM_json_validate_only_fast);
BENCHMARK(BM_json_validate_only_valijson);
BENCHMARK(BM_xml_parse);
BENCHMARK(BM_xml_validate);
BENCHMARK(BM_xml_validate_only);
BENCHMARK(BM_translate_json_to_xml);
BENCHMARK(BM_translate_xml_to_json);
// Per-core scaling: wall-clock throughput of 1 and 2 threads sharing one schema set.
BENCHMARK(BM_json_validate_fast)->UseRealTime()->Threads(1)->Threads(2);

// Takes --data=DIR out of argv (Google Benchmark rejects flags it does not know).
std::string data_dir(int& argc, char** argv) {
  std::string dir = ODRGW_BENCH_DATA_DIR;
  if (const char* env = std::getenv("ODRGW_BENCH_DATA"); env != nullptr && *env != '\0') dir = env;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--data=")) {
      dir = std::string(arg.substr(7));
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  return dir;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = data_dir(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::unique_ptr<fixture> f;
  try {
    f = load(dir);
  } catch (const std::exception& e) {
    std::cerr << "odrgw_bench: " << e.what() << "\n(use --data=DIR or ODRGW_BENCH_DATA)\n";
    return 1;
  }
  fx = f.get();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fx = nullptr;
  return 0;
}
