// odrgw schemas: list, show and export the v1 schemas generated from the one source.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct schemas_args {
  std::string out_dir;
  std::string type;
  bool xsd = false;
};

bool write_file(const std::filesystem::path& p, const std::string& content) {
  std::ofstream f(p, std::ios::binary);
  f << content;
  return static_cast<bool>(f.flush());
}

}  // namespace

command add_schemas(CLI::App& root, const global_options& g) {
  auto args = std::make_shared<schemas_args>();
  CLI::App* app = root.add_subcommand(
      "schemas", "List, show or export the ODR Interchange v1 schemas (JSON Schema and XSD)");
  app->require_subcommand(1);
  CLI::App* list = app->add_subcommand("list", "List the message types with their ODR-SI clause");
  CLI::App* show = app->add_subcommand("show", "Print one message type's JSON Schema (or XSD)");
  show->add_option("type", args->type, "Message type, e.g. dispute.application")->required();
  show->add_flag("--xsd", args->xsd, "Print the XSD instead of the JSON Schema");
  CLI::App* exp = app->add_subcommand(
      "export", "Write json/<type>.schema.json and xsd/<type>.xsd for every type under --out");
  exp->add_option("--out", args->out_dir, "Directory to write into (created if missing)")
      ->required();

  auto run = [args, &g, list, show, exp]() -> int {
    std::shared_ptr<const schemas::schema_set> set;
    try {
      set = load_schema_set(g);
    } catch (const std::exception& e) {
      std::cerr << "odrgw schemas: cannot load the schemas: " << e.what() << "\n";
      return exit_usage;
    }
    if (list->parsed()) {
      for (const auto& m : set->model().messages())
        std::cout << m.type << "\t" << m.clause << "\t" << m.payload_definition << "\n";
      return exit_ok;
    }
    if (show->parsed()) {
      const std::string* text =
          args->xsd ? set->xsd_text(args->type) : set->json_schema_text(args->type);
      if (text == nullptr) {
        std::cerr << "odrgw schemas: unknown message type '" << args->type << "'\n";
        return exit_usage;
      }
      std::cout << *text;
      return exit_ok;
    }
    (void)exp;
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path out(args->out_dir);
    fs::create_directories(out / "json", ec);
    fs::create_directories(out / "xsd", ec);
    if (ec) {
      std::cerr << "odrgw schemas: cannot create " << out.string() << ": " << ec.message() << "\n";
      return exit_usage;
    }
    for (const auto& m : set->model().messages()) {
      if (!write_file(out / "json" / (m.type + ".schema.json"), *set->json_schema_text(m.type)) ||
          !write_file(out / "xsd" / (m.type + ".xsd"), *set->xsd_text(m.type))) {
        std::cerr << "odrgw schemas: cannot write under " << out.string() << "\n";
        return exit_usage;
      }
    }
    std::cout << "wrote " << set->model().messages().size() * 2 << " files under " << out.string()
              << "\n";
    return exit_ok;
  };
  return {app, run};
}

}  // namespace odrgw::tools
