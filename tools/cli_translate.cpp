// odrgw translate / odrgw adapters: dialect -> canonical -> dialect.
#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/adapters/mapping.hpp>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct translate_args {
  std::string from;
  std::string to;
  std::string output;
  std::string input;
  std::string adapter_dir;
  std::size_t max_bytes = 16u << 20;
  // The translation context (adapter.hpp): what the dialect's bytes may not say.
  std::string partner_id;
  std::string partner_role;
  std::string operation;
  std::string reference;
  std::string case_id;
  std::string request_id;
};

// The built-in adapters plus the mapping-file dialects of `adapter_dir` (if given). nullopt: the
// error is on stderr.
std::optional<adapters::registry> load_registry(const std::string& command,
                                                const std::string& adapter_dir,
                                                const global_options& g) {
  schemas::xml_init();
  std::shared_ptr<const schemas::schema_set> set;
  try {
    set = load_schema_set(g);
  } catch (const std::exception& e) {
    std::cerr << "odrgw " << command << ": cannot load the schemas: " << e.what() << "\n";
    return std::nullopt;
  }
  auto reg = adapters::registry::builtin(set);
  if (adapter_dir.empty()) return reg;
  try {
    adapters::load_mapping_dialects(adapter_dir, set, reg);
  } catch (const adapters::mapping_error& e) {
    std::cerr << "odrgw " << command << ": cannot load the mapping dialects: " << e.what() << "\n";
    return std::nullopt;
  }
  return reg;
}

std::string now_rfc3339() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int run_translate(const translate_args& args, const global_options& g) {
  const auto loaded = load_registry("translate", args.adapter_dir, g);
  if (!loaded) return exit_usage;
  const auto& reg = *loaded;
  const adapters::adapter* from = reg.find(args.from);
  const adapters::adapter* to = reg.find(args.to);
  for (const auto& [id, a] : {std::pair{args.from, from}, std::pair{args.to, to}}) {
    if (a == nullptr) {
      std::cerr << "odrgw translate: unknown dialect '" << id
                << "'; `odrgw adapters list` shows the dialects\n";
      return exit_usage;
    }
  }
  auto input = read_input(args.input, args.max_bytes);
  if (!input) return exit_usage;
  std::string out;
  schemas::report r;
  const std::string received_at = now_rfc3339();
  adapters::context ctx;
  ctx.partner_id = args.partner_id;
  ctx.partner_role = args.partner_role;
  ctx.operation = args.operation;
  ctx.reference = args.reference;
  ctx.case_id = args.case_id;
  ctx.request_id = args.request_id;
  ctx.received_at = received_at;
  if (!adapters::translate(*from, *to, *input, ctx, ctx, out, r)) {
    const std::string name = args.input == "-" ? "<stdin>" : args.input;
    for (const auto& e : r.errors) {
      std::cerr << name << ": " << (e.location.empty() ? "(document)" : e.location);
      if (e.line > 0) std::cerr << " (line " << e.line << ")";
      std::cerr << ": " << e.message << " [" << e.rule << "]\n";
    }
    return exit_invalid;
  }
  if (args.output.empty() || args.output == "-") {
    std::cout << out;
    return exit_ok;
  }
  std::ofstream f(args.output, std::ios::binary);
  f << out;
  if (!f.flush()) {
    std::cerr << "odrgw translate: cannot write " << args.output << "\n";
    return exit_usage;
  }
  return exit_ok;
}

}  // namespace

command add_translate(CLI::App& root, const global_options& g) {
  auto args = std::make_shared<translate_args>();
  CLI::App* app = root.add_subcommand(
      "translate",
      "Translate a message between dialects through the canonical v1 form. The input is\n"
      "validated against the source dialect, the canonical message against v1, and the output\n"
      "against the target dialect. Exit status: 0 translated, 1 invalid or untranslatable\n"
      "(errors on stderr, FILE: LOCATION: message [rule]), 2 usage or I/O error.");
  app->add_option("--from", args->from, "Source dialect (see `odrgw adapters list`)")->required();
  app->add_option("--to", args->to, "Target dialect")->required();
  app->add_option("-o,--output", args->output, "Write here instead of standard output");
  app->add_option("--max-bytes", args->max_bytes, "Largest input accepted (default 16 MiB)")
      ->check(CLI::PositiveNumber);
  app->add_option("--adapter-dir", args->adapter_dir,
                  "Also load the mapping-file dialects of DIR (DIR/<dialect-id>/dialect.yaml)");
  app->add_option("--partner", args->partner_id,
                  "Context: the partner the message comes from / goes to (its party id); mapping "
                  "dialects use it for sender.partyId when the document has none");
  app->add_option(
      "--partner-role", args->partner_role,
      "Context: the partner's v1 role (consumer, merchant, platform, odr-provider, ...)");
  app->add_option("--operation", args->operation,
                  "Context: the dialect operation when the body does not say (e.g. make-offer)");
  app->add_option("--reference", args->reference,
                  "Context: the dialect's own case reference when the body lacks it");
  app->add_option("--case-id", args->case_id, "Context: the canonical caseId, if known");
  app->add_option("--request-id", args->request_id,
                  "Context: the sender's idempotency key; a derived messageId comes from it (else "
                  "from the body). The arrival time (sentAt fallback) is now.");
  app->add_option("file", args->input, "Input file; - reads standard input")->required();
  return {app, [args, &g] { return run_translate(*args, g); }};
}

std::string join(std::span<const std::string> types) {
  if (types.empty()) return "-";
  std::string s;
  for (const auto& t : types) s += (s.empty() ? "" : ",") + t;
  return s;
}

command add_adapters(CLI::App& root, const global_options& g) {
  CLI::App* app = root.add_subcommand("adapters", "Inspect the dialect adapters");
  auto dir = std::make_shared<std::string>();
  CLI::App* list = app->add_subcommand(
      "list",
      "List the dialects, one per line, tab-separated: id, encoding, inbound message types (the\n"
      "dialect delivers them to the gateway), outbound message types (it receives them), and\n"
      "the description. Types are comma-separated; - is none.");
  list->add_option("--adapter-dir", *dir,
                   "Also load the mapping-file dialects of DIR (DIR/<dialect-id>/dialect.yaml)");
  app->require_subcommand(1);
  return {list, [dir, &g] {
            const auto reg = load_registry("adapters", *dir, g);
            if (!reg) return exit_usage;
            for (const auto& a : reg->all())
              std::cout << a->id() << "\t" << to_string(a->encoding()) << "\t"
                        << "in: " << join(a->inbound_types()) << "\t"
                        << "out: " << join(a->outbound_types()) << "\t" << a->description() << "\n";
            return exit_ok;
          }};
}

}  // namespace odrgw::tools
