#pragma once
// Shared helpers for the schema tests: the repository's files, read at test time.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace odrgw::test {

inline std::filesystem::path source_dir() { return ODRGW_SOURCE_DIR; }
inline std::filesystem::path examples_dir() { return source_dir() / "schemas/v1/examples"; }

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Files in `dir` ending with `ext`, sorted.
inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir,
                                                   const std::string& ext) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace odrgw::test
