// The registry of adapters and translate().
#include <stdexcept>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/adapters/canonical.hpp>
#include <odrgw/adapters/paypal.hpp>

namespace odrgw::adapters {

registry registry::builtin(std::shared_ptr<const schemas::schema_set> set) {
  registry reg;
  reg.add(std::make_unique<canonical_json>(set));
  reg.add(std::make_unique<canonical_xml>(set));
  reg.add(std::make_unique<paypal_disputes_v1>(set));
  return reg;
}

void registry::add(std::unique_ptr<adapter> a) {
  if (a == nullptr) throw std::invalid_argument("registry::add: no adapter");
  if (find(a->id()) != nullptr)
    throw std::invalid_argument("dialect '" + std::string(a->id()) + "' is defined twice");
  adapters_.push_back(std::move(a));
}

const adapter* registry::find(std::string_view id) const noexcept {
  for (const auto& a : adapters_)
    if (a->id() == id) return a.get();
  return nullptr;
}

bool translate(const adapter& from, const adapter& to, std::string_view input,
               const context& from_ctx, const context& to_ctx, std::string& output,
               schemas::report& r) {
  rapidjson::Document canonical;
  if (!from.to_canonical(input, from_ctx, canonical, r)) return false;
  return to.from_canonical(canonical, to_ctx, output, r);
}

}  // namespace odrgw::adapters
