// odrgw translate / odrgw adapters: dialect -> canonical -> dialect.
#include <fstream>
#include <iostream>

#include <odrgw/adapters/adapter.hpp>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct translate_args {
  std::string from;
  std::string to;
  std::string output;
  std::string input;
  std::size_t max_bytes = 16u << 20;
};

int run_translate(const translate_args& args, const global_options& g) {
  schemas::xml_init();
  std::shared_ptr<const schemas::schema_set> set;
  try {
    set = load_schema_set(g);
  } catch (const std::exception& e) {
    std::cerr << "odrgw translate: cannot load the schemas: " << e.what() << "\n";
    return exit_usage;
  }
  const auto reg = adapters::registry::builtin(set);
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
  if (!adapters::translate(*from, *to, *input, out, r)) {
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
  app->add_option("file", args->input, "Input file; - reads standard input")->required();
  return {app, [args, &g] { return run_translate(*args, g); }};
}

command add_adapters(CLI::App& root, const global_options& g) {
  CLI::App* app = root.add_subcommand("adapters", "Inspect the dialect adapters");
  CLI::App* list = app->add_subcommand("list", "List dialect ids, encodings and message types");
  app->require_subcommand(1);
  return {list, [&g] {
            std::shared_ptr<const schemas::schema_set> set;
            try {
              set = load_schema_set(g);
            } catch (const std::exception& e) {
              std::cerr << "odrgw adapters: cannot load the schemas: " << e.what() << "\n";
              return exit_usage;
            }
            const auto reg = adapters::registry::builtin(set);
            for (const auto& a : reg.all())
              std::cout << a->id() << "\t" << to_string(a->encoding()) << "\t"
                        << "all " << set->model().messages().size() << " v1 message types\t"
                        << a->description() << "\n";
            return exit_ok;
          }};
}

}  // namespace odrgw::tools
