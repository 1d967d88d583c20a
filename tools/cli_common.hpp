#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include <odrgw/schemas/validator.hpp>

namespace odrgw::tools {

// Exit codes shared by every subcommand.
inline constexpr int exit_ok = 0;
inline constexpr int exit_invalid = 1;  // a document failed (validation, translation)
inline constexpr int exit_usage = 2;    // usage or I/O error

struct global_options {
  std::string schema_dir;  // override for the embedded v1 source (--schema-dir / ODRGW_SCHEMA_DIR)
};

// The v1 schema set: the embedded one, or the override directory's.
std::shared_ptr<const schemas::schema_set> load_schema_set(const global_options& g);

// Reads a file ("-" is stdin), refusing more than max_bytes + 1 bytes. nullopt: I/O error
// (already reported on stderr).
std::optional<std::string> read_input(const std::string& path, std::size_t max_bytes);

// A secret or token from a file (at most 4 KiB): its text without trailing CR/LF. nullopt, after
// saying why on stderr as "<command>: the <what> <path> is empty", when unreadable or empty.
std::optional<std::string> read_secret(const std::string& path, std::string_view command,
                                       std::string_view what);

struct command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

command add_validate(CLI::App& root, const global_options& g);
command add_translate(CLI::App& root, const global_options& g);
command add_schemas(CLI::App& root, const global_options& g);
command add_adapters(CLI::App& root, const global_options& g);
command add_mock_provider(CLI::App& root, const global_options& g);
command add_callback(CLI::App& root, const global_options& g);
command add_conformance(CLI::App& root, const global_options& g);
command add_serve(CLI::App& root, const global_options& g);
command add_outbox(CLI::App& root, const global_options& g);
command add_audit(CLI::App& root, const global_options& g);

}  // namespace odrgw::tools
