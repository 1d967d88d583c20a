#pragma once
// RFC 9457 problem details: the one shape in which the gateway reports every error.
#include <string>
#include <vector>

#include <odrgw/schemas/report.hpp>

namespace odrgw::gateway {

struct problem {
  int status = 500;
  std::string type;    // a URN naming the kind of problem, e.g. urn:odrgw:problem:schema-invalid
  std::string title;   // short, the same for every problem of this type
  std::string detail;  // this occurrence
  std::vector<schemas::issue> errors;  // where and which rule, for validation problems
  bool truncated = false;
  // Extension members of a state conflict (409): the case's state and what it allows now.
  std::string state;
  std::vector<std::string> allowed;
};

// A failed validation: 400 when the document could not be read, 422 when it broke schema rules.
problem problem_from_report(const schemas::report& r);

// application/problem+json
std::string to_json(const problem& p);

}  // namespace odrgw::gateway
