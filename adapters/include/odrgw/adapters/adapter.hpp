#pragma once
// Adapters translate between a partner's dialect and the canonical ODR Interchange v1 message.
// They are pure and synchronous (bytes in, value or report out), immutable and shared by all
// threads; nothing here opens a socket or a file.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <odrgw/schemas/json.hpp>
#include <odrgw/schemas/report.hpp>
#include <odrgw/schemas/validator.hpp>

namespace odrgw::adapters {

class adapter {
 public:
  virtual ~adapter() = default;
  virtual std::string_view id() const noexcept = 0;  // the dialect id, e.g. "canonical-xml"
  virtual schemas::encoding encoding() const noexcept = 0;
  virtual std::string_view description() const noexcept = 0;

  // Dialect bytes -> canonical message. The input is checked against the dialect's own schema
  // first and the result against the canonical schema; on failure `r` says where and why.
  virtual bool to_canonical(std::string_view bytes, rapidjson::Document& out,
                            schemas::report& r) const = 0;
  // Canonical message (already valid) -> dialect bytes, checked against the dialect's schema.
  virtual bool from_canonical(const rapidjson::Value& message, std::string& out,
                              schemas::report& r) const = 0;
};

// The built-in adapters, listed explicitly (no static self-registration).
class registry {
 public:
  static registry builtin(std::shared_ptr<const schemas::schema_set> set);
  const adapter* find(std::string_view id) const noexcept;
  const std::vector<std::unique_ptr<adapter>>& all() const noexcept { return adapters_; }

 private:
  std::vector<std::unique_ptr<adapter>> adapters_;
};

// Dialect -> canonical -> dialect. Returns false with the report of the stage that failed.
bool translate(const adapter& from, const adapter& to, std::string_view input, std::string& output,
               schemas::report& r);

}  // namespace odrgw::adapters
