// odrgw_translate_bench: translation messages/s for every bundled adapter, both ways, on every
// example of its dialect (adapters/dialects/<dialect>/examples/, skipping invalid-*), plus the
// canonical JSON <-> XML pair on dispute.application. Each figure includes the adapter's own
// checks (dialect schema in, v1 schema on the result; dialect schema on the way out), because that
// is what a partner's message costs the gateway. tests/bench/README.md has the figures.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/adapters/mapping.hpp>
#include <odrgw/schemas/validator.hpp>

namespace {

namespace fs = std::filesystem;
namespace schemas = odrgw::schemas;
namespace adapters = odrgw::adapters;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a request would carry beside the body (docs/operations.md): PayPal's request bodies are
// named by their operation, which the example files carry in their names.
struct sample {
  std::string name;
  std::string bytes;
  std::string operation;
};

std::string operation_of(const std::string& dialect, const std::string& stem) {
  if (dialect != "paypal-disputes-v1") return "";
  for (const char* op : {"make-offer", "accept-offer", "deny-offer", "send-message",
                         "provide-evidence", "escalate", "appeal", "accept-claim"})
    if (stem.starts_with(op)) return op;
  return "";  // a dispute object or a webhook event says what it is
}

adapters::context context_for(const sample& s) {
  adapters::context c;
  c.partner_id = "bench-partner";
  c.partner_role = "platform";
  c.operation = s.operation;
  // Request bodies do not name their dispute (a dispute object does, and must agree); an appeal
  // needs the case it belongs to.
  if (!s.operation.empty()) c.reference = "PP-D-12345";
  c.case_id = "ODR-2026-000001";
  c.received_at = "2026-09-02T08:00:00.000Z";
  return c;
}

struct registry_holder {
  std::shared_ptr<const schemas::schema_set> set = schemas::schema_set::builtin();
  adapters::registry reg = adapters::registry::builtin(set);
};

registry_holder* holder = nullptr;

void register_all(const fs::path& source) {
  holder = new registry_holder;
  adapters::load_mapping_dialects(source / "adapters/dialects", holder->set, holder->reg);
  auto& reg = holder->reg;

  // canonical-json <-> canonical-xml on the reference message.
  const auto app = read_file(source / "schemas/v1/examples/valid/dispute.application.json");
  const auto* cj = reg.find("canonical-json");
  const auto* cx = reg.find("canonical-xml");
  benchmark::RegisterBenchmark("canonical-json->canonical-xml/dispute.application",
                               [cj, cx, app](benchmark::State& st) {
                                 std::string out;
                                 schemas::report r;
                                 for (auto _ : st) {
                                   if (!adapters::translate(*cj, *cx, app, out, r))
                                     st.SkipWithError("translation failed");
                                   benchmark::DoNotOptimize(out);
                                 }
                                 st.SetItemsProcessed(st.iterations());
                               });

  for (const auto& entry : fs::directory_iterator(source / "adapters/dialects")) {
    const std::string dialect = entry.path().filename().string();
    const adapters::adapter* a = reg.find(dialect);
    if (a == nullptr || !fs::is_directory(entry.path() / "examples")) continue;
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(entry.path() / "examples"))
      if (!f.path().filename().string().starts_with("invalid")) files.push_back(f.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto s = std::make_shared<sample>();
      s->name = f.stem().string();
      s->bytes = read_file(f);
      s->operation = operation_of(dialect, s->name);
      // Inbound: dialect -> canonical.
      rapidjson::Document canonical;
      schemas::report r;
      if (!a->to_canonical(s->bytes, context_for(*s), canonical, r)) {
        std::cerr << dialect << "/" << s->name << ": does not translate ("
                  << (r.errors.empty() ? "" : r.errors[0].location + " " + r.errors[0].rule)
                  << "); skipped\n";
        continue;
      }
      benchmark::RegisterBenchmark(
          (dialect + "->canonical/" + s->name).c_str(), [a, s](benchmark::State& st) {
            const auto ctx = context_for(*s);
            for (auto _ : st) {
              rapidjson::Document d;
              schemas::report rep;
              if (!a->to_canonical(s->bytes, ctx, d, rep)) st.SkipWithError("translation failed");
              benchmark::DoNotOptimize(d);
            }
            st.SetItemsProcessed(st.iterations());
            st.SetBytesProcessed(st.iterations() * static_cast<int64_t>(s->bytes.size()));
          });
      // Outbound: the same canonical message back, where the dialect sends that type.
      const std::string type = canonical["messageType"].GetString();
      const auto out_types = a->outbound_types();
      if (std::find(out_types.begin(), out_types.end(), type) == out_types.end()) continue;
      auto msg = std::make_shared<rapidjson::Document>();
      msg->CopyFrom(canonical, msg->GetAllocator());
      std::string probe;
      if (!a->from_canonical(*msg, context_for(*s), probe, r)) continue;
      benchmark::RegisterBenchmark((std::string("canonical->") + dialect + "/" + s->name).c_str(),
                                   [a, s, msg](benchmark::State& st) {
                                     const auto ctx = context_for(*s);
                                     std::string out;
                                     for (auto _ : st) {
                                       schemas::report rep;
                                       if (!a->from_canonical(*msg, ctx, out, rep))
                                         st.SkipWithError("translation failed");
                                       benchmark::DoNotOptimize(out);
                                     }
                                     st.SetItemsProcessed(st.iterations());
                                   });
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  schemas::xml_init();
  fs::path source = ODRGW_SOURCE_DIR;
  if (const char* env = std::getenv("ODRGW_SOURCE")) source = env;
  try {
    register_all(source);
  } catch (const std::exception& e) {
    std::cerr << "odrgw_translate_bench: " << e.what() << "\n";
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
