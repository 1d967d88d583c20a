#pragma once
// The run's reports: JUnit XML (for CI), JSON (machine-readable, the source of the other two) and
// a self-contained HTML page (no external assets; everything embedded is escaped).
#include <string>

#include <odrgw/conformance/suite.hpp>

namespace odrgw::conformance {

std::string json_report(const run_result& r);
std::string junit_report(const run_result& r);
std::string html_report(const run_result& r);

// HTML text escaping (&, <, >, ", ').
std::string html_escape(std::string_view s);

}  // namespace odrgw::conformance
