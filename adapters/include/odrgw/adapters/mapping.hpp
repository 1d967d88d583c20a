#pragma once
// Mapping-file dialects: a JSON or XML dialect described by a declarative file (YAML or JSON),
// added at start-up without recompiling. docs/adapters/mapping.md describes the format; its JSON
// Schema (adapters/mapping.schema.json) is compiled in and checked at load.
//
// Layout: DIR/<dialect-id>/dialect.yaml, next to the dialect's own schema (JSON Schema or XSD).
// Loading happens once at start-up (files are read then); the adapters it returns are immutable,
// thread-safe and never touch the file system again.
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <odrgw/adapters/adapter.hpp>

namespace odrgw::adapters {

// A mapping file that cannot be used: which file, where in it (JSON pointer into the mapping,
// "" for the whole file) and why. what() is "FILE: POINTER: MESSAGE".
class mapping_error : public std::runtime_error {
 public:
  mapping_error(std::string file, std::string pointer, const std::string& message);
  const std::string& file() const noexcept { return file_; }
  const std::string& pointer() const noexcept { return pointer_; }

 private:
  std::string file_;
  std::string pointer_;
};

// Bounds on what a (trusted, but possibly broken) mapping file may ask for.
struct mapping_limits {
  std::size_t max_file_bytes = 1u << 20;    // dialect.yaml
  std::size_t max_schema_bytes = 4u << 20;  // the dialect's schema
  std::size_t max_yaml_nodes = 100000;      // after alias expansion (stops "billion laughs")
  int max_yaml_depth = 32;                  // also stops self-referencing aliases
};

// The file name a dialect directory must hold.
inline constexpr std::string_view mapping_file_name = "dialect.yaml";

// Loads one mapping file. Throws mapping_error (file + JSON pointer + message).
std::unique_ptr<adapter> load_mapping_dialect(const std::filesystem::path& file,
                                              std::shared_ptr<const schemas::schema_set> set,
                                              const mapping_limits& limits = {});

// Loads DIR/*/dialect.yaml (sub-directories in name order; other files and sub-directories
// without dialect.yaml are skipped) into `reg`. The dialect id must equal the directory name; an
// id already in `reg` is an error. Returns how many were added. Throws mapping_error; on error
// nothing is added.
std::size_t load_mapping_dialects(const std::filesystem::path& dir,
                                  std::shared_ptr<const schemas::schema_set> set, registry& reg,
                                  const mapping_limits& limits = {});

// The compiled-in JSON Schema (draft-07) of mapping files.
std::string_view mapping_schema() noexcept;

}  // namespace odrgw::adapters
