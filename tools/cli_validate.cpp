// odrgw validate: checks documents against the v1 schemas or a user schema.
#include <iostream>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct validate_args {
  std::string type;
  std::string schema;
  std::string format = "text";
  std::size_t max_bytes = 16u << 20;
  std::vector<std::string> files;
};

std::string location_text(const schemas::issue& e) {
  std::string loc = e.location.empty() ? "(document)" : e.location;
  if (e.line > 0) loc += " (line " + std::to_string(e.line) + ")";
  return loc;
}

void print_text(const std::string& file, const schemas::report& r) {
  if (r.valid()) {
    std::cout << file << ": valid";
    if (!r.message_type.empty())
      std::cout << " (" << r.message_type << ", " << to_string(r.enc) << ")";
    std::cout << "\n";
    return;
  }
  for (const auto& e : r.errors)
    std::cout << file << ": " << location_text(e) << ": " << e.message << " [" << e.rule << "]\n";
  if (r.truncated)
    std::cout << file << ": (document): more errors not shown (limit " << schemas::max_report_errors
              << ") [truncated]\n";
}

void add_report_json(rapidjson::Value& files, const std::string& file, const schemas::report& r,
                     rapidjson::Document::AllocatorType& a) {
  auto str = [&](std::string_view s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  rapidjson::Value o(rapidjson::kObjectType);
  o.AddMember("file", str(file), a);
  o.AddMember("valid", r.valid(), a);
  o.AddMember("status", str(to_string(r.status)), a);
  o.AddMember("encoding", str(to_string(r.enc)), a);
  if (!r.message_type.empty()) o.AddMember("messageType", str(r.message_type), a);
  rapidjson::Value errs(rapidjson::kArrayType);
  for (const auto& e : r.errors) {
    rapidjson::Value ev(rapidjson::kObjectType);
    ev.AddMember("location", str(e.location), a);
    ev.AddMember("rule", str(e.rule), a);
    ev.AddMember("message", str(e.message), a);
    if (e.line > 0) ev.AddMember("line", static_cast<uint64_t>(e.line), a);
    errs.PushBack(ev, a);
  }
  o.AddMember("errors", errs, a);
  o.AddMember("truncated", r.truncated, a);
  files.PushBack(o, a);
}

int run_validate(const validate_args& args, const global_options& g) {
  schemas::xml_init();
  schemas::validate_options opts;
  opts.json.max_bytes = args.max_bytes;
  opts.xml.max_bytes = args.max_bytes;

  std::shared_ptr<const schemas::schema_set> set;
  std::unique_ptr<schemas::user_schema> user;
  try {
    if (!args.schema.empty()) {
      auto text = read_input(args.schema, 64u << 20);
      if (!text) return exit_usage;
      std::string error;
      user = schemas::user_schema::load(*text, args.schema, error);
      if (!user) {
        std::cerr << "odrgw validate: " << args.schema << ": " << error << "\n";
        return exit_usage;
      }
    } else {
      set = load_schema_set(g);
      if (!args.type.empty() && set->model().find(args.type) == nullptr) {
        std::cerr << "odrgw validate: unknown message type '" << args.type
                  << "'; `odrgw schemas list` shows the v1 types\n";
        return exit_usage;
      }
      opts.message_type = args.type;
    }
  } catch (const std::exception& e) {
    std::cerr << "odrgw validate: cannot load the schemas: " << e.what() << "\n";
    return exit_usage;
  }

  bool any_invalid = false;
  bool io_error = false;
  rapidjson::Document out(rapidjson::kObjectType);
  rapidjson::Value files(rapidjson::kArrayType);
  for (const auto& file : args.files) {
    auto data = read_input(file, args.max_bytes);
    if (!data) {
      io_error = true;
      continue;
    }
    const std::string name = file == "-" ? "<stdin>" : file;
    schemas::report r = user ? user->validate(*data, opts) : set->validate(*data, opts);
    any_invalid = any_invalid || !r.valid();
    if (args.format == "json") {
      add_report_json(files, name, r, out.GetAllocator());
    } else {
      print_text(name, r);
    }
  }
  if (args.format == "json") {
    out.AddMember("valid", !any_invalid && !io_error, out.GetAllocator());
    out.AddMember("files", files, out.GetAllocator());
    std::cout << schemas::to_json_string(out, true) << "\n";
  }
  if (io_error) return exit_usage;
  return any_invalid ? exit_invalid : exit_ok;
}

}  // namespace

command add_validate(CLI::App& root, const global_options& g) {
  auto args = std::make_shared<validate_args>();
  CLI::App* app = root.add_subcommand(
      "validate",
      "Check messages against the ODR Interchange v1 schemas (or a schema of your own).\n"
      "Without --type the message's own messageType picks the schema; JSON or XML is detected\n"
      "from the content. Exit status: 0 all valid, 1 some invalid, 2 usage or I/O error.\n"
      "Text output: one line per error, FILE: LOCATION: message [rule]; LOCATION is a JSON\n"
      "pointer (JSON) or an element path with its line (XML).");
  auto* type = app->add_option("--type", args->type,
                               "Validate as this v1 message type (e.g. dispute.application)");
  auto* schema = app->add_option("--schema", args->schema,
                                 "Validate against this JSON Schema (draft-04/07) or XSD instead");
  type->excludes(schema);
  app->add_option("--format", args->format, "Output: text (default) or json")
      ->check(CLI::IsMember({"text", "json"}));
  app->add_option("--max-bytes", args->max_bytes, "Largest document accepted (default 16 MiB)")
      ->check(CLI::PositiveNumber);
  app->add_option("files", args->files, "Files to check; - reads standard input")->required();
  return {app, [args, &g] { return run_validate(*args, g); }};
}

}  // namespace odrgw::tools
