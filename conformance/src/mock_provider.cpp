// The mock ODR provider: a Beast server on one I/O thread, and one worker thread that sends the
// results back to the gateway with the blocking client (never on the I/O thread), in order, each
// retried until the gateway answers.
#include <odrgw/conformance/mock_provider.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/adapters/mapping.hpp>
#include <odrgw/gateway/callback.hpp>
#include <odrgw/gateway/http_client.hpp>
#include <odrgw/gateway/routing.hpp>
#include <odrgw/schemas/json.hpp>

#include "http_session.hpp"

namespace odrgw::conformance {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using rapidjson::Value;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

constexpr std::array<std::pair<std::string_view, mock_mode>, 8> modes = {{
    {"conforming", mock_mode::conforming},
    {"reject-all", mock_mode::reject_all},
    {"slow", mock_mode::slow},
    {"flaky", mock_mode::flaky},
    {"duplicate-results", mock_mode::duplicate_results},
    {"invalid-results", mock_mode::invalid_results},
    {"misordered-results", mock_mode::misordered_results},
    {"other-case-results", mock_mode::other_case_results},
}};

std::string now_text() { return gateway::routing::format_time(gateway::routing::clock::now()); }

constexpr auto text = &schemas::string_member;
constexpr auto child = &schemas::member_or_empty;

// `%XX` and `+` of a query component; a broken escape stays as it is.
std::string percent_decoded(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The value of query parameter `name` in `target` ("" when absent).
std::string query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    const auto eq = pair.find('=');
    if (percent_decoded(pair.substr(0, eq)) == name)
      return eq == std::string_view::npos ? std::string() : percent_decoded(pair.substr(eq + 1));
  }
  return {};
}

response answer(http::status s, unsigned version, std::string body, std::string_view type) {
  response r{s, version};
  r.set(http::field::content_type, type);
  r.set(http::field::server, "odrgw-mock-provider");
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

response problem(http::status s, unsigned version, std::string_view title, std::string detail,
                 std::string_view rule, std::string_view location = "") {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto str = [&](std::string_view v) {
    return Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
  };
  d.AddMember("type", str("urn:odrgw:mock-provider:" + std::string(rule)), a);
  d.AddMember("title", str(title), a);
  d.AddMember("status", static_cast<int>(s), a);
  d.AddMember("detail", str(detail), a);
  Value errors(rapidjson::kArrayType);
  Value e(rapidjson::kObjectType);
  e.AddMember("location", str(location), a);
  e.AddMember("rule", str(rule), a);
  e.AddMember("message", str(detail), a);
  errors.PushBack(e, a);
  d.AddMember("errors", errors, a);
  return answer(s, version, schemas::to_json_string(d) + "\n", "application/problem+json");
}

}  // namespace

mock_mode parse_mock_mode(std::string_view s) {
  for (const auto& [name, m] : modes)
    if (name == s) return m;
  std::string known;
  for (const auto& [name, m] : modes) known += (known.empty() ? "" : ", ") + std::string(name);
  throw std::invalid_argument("unknown mode '" + std::string(s) + "' (modes: " + known + ")");
}

std::string_view to_string(mock_mode m) noexcept {
  for (const auto& [name, mode] : modes)
    if (mode == m) return name;
  return "?";
}

struct mock_provider::impl {
  mock_options opts;
  std::shared_ptr<const schemas::schema_set> set;
  adapters::registry adapters;
  const adapters::adapter* dialect = nullptr;  // opts.dialect
  bool canonical = false;                      // canonical-json or canonical-xml: either reads
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc, SIGINT, SIGTERM};

  // What was received (messageId -> receipt and count) and what was sent back.
  struct received_entry {
    std::string receipt;
    std::string type;
    std::string case_id;
    std::string signature;                      // the verdict when a secret is set
    std::vector<std::string> idempotency_keys;  // distinct Idempotency-Key values, in order
    int count = 0;
  };
  struct sent_entry {
    std::string message_id, type;
    int status = 0;
    std::string error;
    int attempts = 0;
  };
  struct rejected_entry {  // a POST refused for its signature
    std::string verdict, detail, idempotency_key;
  };
  struct skipped_entry {  // a result the dialect cannot carry
    std::string type, in_reply_to, reason;
  };
  struct outgoing {  // one result, rendered in the dialect
    std::string message_id, type, body, content_type;
  };
  struct job {
    std::chrono::steady_clock::time_point due;
    std::vector<outgoing> messages;  // sent in order
  };
  struct party {
    std::string id, role;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, received_entry> received;  // key: sender partyId + " " + messageId
  std::vector<std::string> received_order;
  std::vector<sent_entry> sent;
  std::vector<rejected_entry> rejected;
  std::vector<skipped_entry> skipped;
  // caseId -> the complainant side of its dispute.application: whom results answering the
  // gateway's own messages (stage.changed) go to.
  std::map<std::string, party> complainants;
  // caseId -> the parties its dispute.application names (complainant, respondent), for
  // relay_parties; and the cases already accepted (an appealed case arrives as its application
  // and then the appeal: one acceptance).
  std::map<std::string, std::pair<party, party>> case_parties;
  std::set<std::string> accepted;
  std::deque<job> jobs;
  bool stopping = false;
  std::jthread sender_thread;

  impl(mock_options o, std::shared_ptr<const schemas::schema_set> s)
      : opts(std::move(o)), set(std::move(s)), adapters(adapters::registry::builtin(set)) {
    if (!opts.adapter_dir.empty()) adapters::load_mapping_dialects(opts.adapter_dir, set, adapters);
    dialect = adapters.find(opts.dialect);
    if (dialect == nullptr) {
      std::string known;
      for (const auto& a : adapters.all())
        known += (known.empty() ? "" : ", ") + std::string(a->id());
      throw std::invalid_argument(
          "unknown dialect '" + opts.dialect + "' (known: " + known +
          (opts.adapter_dir.empty() ? "; mapping dialects need --adapter-dir" : "") + ")");
    }
    canonical = opts.dialect == "canonical-json" || opts.dialect == "canonical-xml";
  }

  std::string_view content_type() const {
    return dialect->encoding() == schemas::encoding::xml ? "application/xml" : "application/json";
  }

  // Whom a result answering `in` goes to: its sender, unless that is the gateway itself; then the
  // complainant side of the case (from its dispute.application), else the gateway.
  party recipient_for(const Value& in) {
    const Value& s = child(in, "sender");
    party p{std::string(text(s, "partyId")), std::string(text(s, "role"))};
    if (p.role != "gateway") return p;
    std::lock_guard lock(mu);
    const auto it = complainants.find(std::string(text(in, "caseId")));
    return it != complainants.end() ? it->second : p;
  }

  // Called with `mu` held, for a case's first dispute.application.
  void remember_complainant(const Value& in) {
    const std::string case_id(text(in, "caseId"));
    if (case_id.empty() || text(in, "messageType") != "dispute.application") return;
    const Value& s = child(in, "sender");
    const Value& pl = child(in, "payload");
    auto named = [&](const char* who) {
      const Value& x = child(pl, who);
      return party{std::string(text(x, "partyId")), std::string(text(x, "kind"))};
    };
    case_parties.try_emplace(case_id, named("complainant"), named("respondent"));
    if (text(s, "role") != "gateway" && !text(s, "partyId").empty()) {
      complainants.try_emplace(
          case_id, party{std::string(text(s, "partyId")), std::string(text(s, "role"))});
      return;
    }
    // Filed through the gateway: the complainant named in the payload (kind is its role).
    const Value& c = child(child(in, "payload"), "complainant");
    const std::string_view kind = text(c, "kind");
    if (!text(c, "partyId").empty() &&
        (kind == "consumer" || kind == "merchant" || kind == "platform"))
      complainants.try_emplace(case_id, party{std::string(text(c, "partyId")), std::string(kind)});
  }

  // ---- results ---------------------------------------------------------------------------------

  rapidjson::Document envelope(const Value& in, std::string_view type, const party& to) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    auto str = [&](std::string_view v) {
      return Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a);
    };
    static thread_local boost::uuids::random_generator uuid;
    d.AddMember("messageId", str(boost::uuids::to_string(uuid())), a);
    d.AddMember("messageType", str(type), a);
    d.AddMember("specVersion", "1.0", a);
    d.AddMember("caseId", str(text(in, "caseId")), a);
    Value sender(rapidjson::kObjectType);
    sender.AddMember("partyId", str(opts.party_id), a);
    sender.AddMember("role", "odr-provider", a);
    d.AddMember("sender", sender, a);
    Value recipient(rapidjson::kObjectType);
    recipient.AddMember("partyId", str(to.id), a);
    recipient.AddMember("role", str(to.role), a);
    d.AddMember("recipient", recipient, a);
    d.AddMember("sentAt", str(now_text()), a);
    d.AddMember("inReplyTo", str(text(in, "messageId")), a);
    d.AddMember("language", "en", a);
    d.AddMember("payload", Value(rapidjson::kObjectType), a);
    return d;
  }

  static void put(rapidjson::Document& d, Value& obj, std::string_view name, std::string_view v) {
    auto& a = d.GetAllocator();
    obj.AddMember(Value(name.data(), static_cast<rapidjson::SizeType>(name.size()), a),
                  Value(v.data(), static_cast<rapidjson::SizeType>(v.size()), a), a);
  }

  // The parties act on this provider's platform; it relays what they do (relay_parties): the
  // respondent answers agreeing to arbitration, the complainant asks for mediation (agreeing too),
  // and this forum appoints a neutral and proposes.
  void relay_parties(const Value& in, std::vector<rapidjson::Document>& out) {
    std::pair<party, party> ps;
    {
      std::lock_guard lock(mu);
      auto it = case_parties.find(std::string(text(in, "caseId")));
      if (it == case_parties.end()) return;
      ps = it->second;
    }
    const auto& [complainant, respondent] = ps;
    if (complainant.id.empty() || respondent.id.empty()) return;
    auto as = [&](rapidjson::Document& d, const party& who) {
      auto& a = d.GetAllocator();
      d["sender"]["partyId"].SetString(who.id.c_str(),
                                       static_cast<rapidjson::SizeType>(who.id.size()), a);
      d["sender"]["role"].SetString(who.role.c_str(),
                                    static_cast<rapidjson::SizeType>(who.role.size()), a);
    };
    const party forum{opts.party_id, "odr-provider"};
    auto resp = envelope(in, "dispute.response", complainant);
    as(resp, respondent);
    {
      auto& a = resp.GetAllocator();
      auto& pl = resp["payload"];
      put(resp, pl, "respondent", respondent.role);
      put(resp, pl, "position", "disputes-claim");
      put(resp, pl, "statement", "The goods were sent as described; we do not accept the claim.");
      Value consents(rapidjson::kObjectType);
      consents.AddMember("participation", true, a);
      consents.AddMember("crossBorderDataTransfer", true, a);
      consents.AddMember("arbitrationAgreement", true, a);
      put(resp, consents, "consentedAt", now_text());
      pl.AddMember("consents", consents, a);
    }
    out.push_back(std::move(resp));
    auto esc = envelope(in, "escalation.request", forum);
    as(esc, complainant);
    {
      auto& pl = esc["payload"];
      put(esc, pl, "requestedBy", complainant.role);
      put(esc, pl, "fromTier", "T3");
      put(esc, pl, "toTier", "T4");
      put(esc, pl, "reasonCode", "negotiation-failed");
      put(esc, pl, "reason", "The merchant rejects the claim; the buyer asks for mediation.");
      pl.AddMember("arbitrationAgreement", true, esc.GetAllocator());
    }
    // This forum answers the request it relayed: a neutral, a proposal.
    auto more = results_for(esc);
    out.push_back(std::move(esc));
    for (auto& m : more) out.push_back(std::move(m));
  }

  std::vector<rapidjson::Document> results_for(const Value& in) {
    std::vector<rapidjson::Document> out;
    const std::string_view type = text(in, "messageType");
    const Value& p = child(in, "payload");
    const auto now = gateway::routing::clock::now();
    const std::string today = now_text().substr(0, 10);
    auto later = [&](int days) {
      return gateway::routing::format_time(now + std::chrono::days(days));
    };
    const party to = recipient_for(in);
    std::string to_tier;
    if (type == "dispute.application") to_tier = "T3";  // this is an external provider
    if (type == "dispute.appeal") to_tier = std::string(text(p, "toTier"));
    if (type == "escalation.request") to_tier = std::string(text(p, "toTier"));
    if (type == "stage.changed" && text(p, "toState") == "arbitration") to_tier = "T5";

    // The case state machine (docs/routing.md): a filing or appeal to this forum waits for its
    // acceptance; T3 -> T4 -> T5 stay with the same forum and go straight to the working state,
    // so an escalation (or an appeal) to T5 and arbitration's stage.changed get the award.
    if (type == "dispute.application" || (type == "dispute.appeal" && to_tier != "T5")) {
      {
        std::lock_guard lock(mu);
        if (!accepted.insert(std::string(text(in, "caseId"))).second) return out;  // done
      }
      auto d = envelope(in, "dispute.acceptance", to);
      auto& pl = d["payload"];
      put(d, pl, "decision", "accepted");
      put(d, pl, "tier", to_tier.empty() ? "T3" : to_tier);
      put(d, pl, "decidedAt", now_text());
      out.push_back(std::move(d));
      if (opts.relay_parties && (to_tier.empty() || to_tier == "T3")) relay_parties(in, out);
    } else if (to_tier == "T4") {
      auto d = envelope(in, "mediation.neutral-appointed", to);
      auto& a = d.GetAllocator();
      Value neutral(rapidjson::kObjectType);
      neutral.AddMember("neutralId", "mock-neutral-1", a);
      neutral.AddMember("name", "Mock Neutral", a);
      d["payload"].AddMember("neutral", neutral, a);
      put(d, d["payload"], "appointedAt", now_text());
      put(d, d["payload"], "mediationDueAt", later(10));
      out.push_back(std::move(d));
      auto prop = envelope(in, "mediation.proposal", to);
      auto& pp = prop["payload"];
      put(prop, pp, "proposalId", "mock-proposal-1");
      put(prop, pp, "remedy", "partial-refund");
      put(prop, pp, "terms",
          "The merchant refunds half of the price; the consumer keeps the goods.");
      put(prop, pp, "respondBy", later(7));
      out.push_back(std::move(prop));
    } else if (to_tier == "T5") {
      auto d = envelope(in, "arbitration.award", to);
      auto& a = d.GetAllocator();
      auto& pl = d["payload"];
      put(d, pl, "awardId", "mock-award-1");
      put(d, pl, "outcome", "upheld");
      put(d, pl, "awardDate", today);
      Value seat(rapidjson::kObjectType);
      seat.AddMember("country", "SG", a);
      seat.AddMember("city", "Singapore", a);
      pl.AddMember("seat", seat, a);
      put(d, pl, "reasons", "The goods do not conform to the contract; the claim is upheld.");
      Value sig(rapidjson::kObjectType);
      put(d, sig, "neutralId", "mock-neutral-1");
      put(d, sig, "name", "Mock Neutral");
      put(d, sig, "signedAt", now_text());
      put(d, sig, "algorithm", "ecdsa-p256-sha256");
      put(d, sig, "keyId", "mock-neutral-1-2026");
      put(d, sig, "signatureValue",
          "MEUCIQDh1u0s4J8y2l9kCqVb3F0pQm7rT2wZ6nX8eY1aK5o3vAIgTz4N0bR9cW2qL7mH1dS6fJ8xE3uP5kV0yG2"
          "nB4iC7aM=");
      pl.AddMember("signature", sig, a);
      out.push_back(std::move(d));
    }
    if (opts.mode == mock_mode::invalid_results)
      for (auto& d : out) {
        // A tier that does not exist: the gateway must refuse the result (422).
        auto& pl = d["payload"];
        if (pl.HasMember("tier")) pl.RemoveMember("tier");
        put(d, pl, "tier", "T9");
      }
    // Against the state machine: a message's results in reverse order (the proposal before the
    // neutral's appointment).
    if (opts.mode == mock_mode::misordered_results) std::reverse(out.begin(), out.end());
    if (opts.mode == mock_mode::other_case_results)
      for (auto& d : out) {
        const std::string other = "other-" + std::string(text(d, "caseId"));
        d["caseId"].SetString(other.c_str(), static_cast<rapidjson::SizeType>(other.size()),
                              d.GetAllocator());
      }
    return out;
  }

  // A result in the dialect; nullopt (logged, and listed as skipped) when the dialect cannot
  // carry it.
  std::optional<outgoing> render(const rapidjson::Document& d) {
    outgoing o{std::string(text(d, "messageId")),
               std::string(text(d, "messageType")),
               {},
               std::string(content_type())};
    if (opts.dialect == "canonical-json") {
      o.body = schemas::to_json_string(d);
      return o;
    }
    adapters::context ctx;
    ctx.partner_id = opts.party_id;
    ctx.partner_role = "odr-provider";
    ctx.case_id = text(d, "caseId");
    ctx.request_id = o.message_id;
    ctx.received_at = text(d, "sentAt");
    schemas::report r;
    if (dialect->from_canonical(d, ctx, o.body, r)) return o;
    const auto& e = r.errors.empty() ? schemas::issue{} : r.errors.front();
    const auto types = dialect->outbound_types();
    const bool cannot = e.rule == "no-counterpart" ||
                        (e.location == "/messageType" && e.rule.starts_with("mapping:/messages")) ||
                        std::find(types.begin(), types.end(), o.type) == types.end();
    std::string reason = cannot ? "dialect " + opts.dialect + " cannot carry a " + o.type
                                : "does not render in " + opts.dialect + ": " + e.location + ": " +
                                      e.message + " (" + e.rule + ")";
    std::cerr << "mock-provider: skipped " << o.type << " " << o.message_id << ": " << reason
              << "\n";
    std::lock_guard lock(mu);
    skipped.push_back({o.type, std::string(text(d, "inReplyTo")), std::move(reason)});
    return std::nullopt;
  }

  void schedule(const Value& in) {
    if (opts.gateway_url.empty()) return;
    auto results = results_for(in);
    if (results.empty()) return;
    job j;
    j.due = std::chrono::steady_clock::now() + opts.delay;
    for (auto& d : results) {
      if (opts.mode != mock_mode::invalid_results) {
        schemas::report r;
        set->validate_json(d, "", r);
        if (!r.valid())
          std::cerr << "mock-provider: bug: a result fails v1 at "
                    << (r.errors.empty() ? "" : r.errors[0].location) << "\n";
      }
      auto o = render(d);
      if (!o) continue;
      j.messages.push_back(std::move(*o));
      if (opts.mode == mock_mode::duplicate_results) j.messages.push_back(j.messages.back());
    }
    if (j.messages.empty()) return;
    {
      std::lock_guard lock(mu);
      jobs.push_back(std::move(j));
    }
    cv.notify_all();
  }

  void send_loop(std::stop_token stop) {
    const std::string url = opts.gateway_url + "/v1/messages";
    gateway::client_options co;
    co.ca_file = opts.ca_file;
    co.timeout = std::chrono::seconds(10);
    for (;;) {
      job j;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stopping || stop.stop_requested() || !jobs.empty(); });
        if (jobs.empty()) return;
        if (!stopping) {
          cv.wait_until(lock, jobs.front().due, [&] { return stopping; });
        }
        j = std::move(jobs.front());
        jobs.pop_front();
      }
      for (const auto& m : j.messages) {
        // Transport errors and 5xx (a gateway restarting, overloaded) are retried with the same
        // messageId and Idempotency-Key, so the gateway stores the result once; the next result
        // waits (they go in order: an acceptance before what follows it).
        const std::vector<std::pair<std::string, std::string>> headers = {
            {"Authorization", "Bearer " + opts.token}, {"Idempotency-Key", m.message_id}};
        gateway::http_answer ans;
        int attempts = 0;
        auto backoff = opts.retry_backoff;
        for (;;) {
          ans = gateway::http_post(url, m.body, m.content_type, headers, co);
          ++attempts;
          const bool retry = ans.status == 0 || ans.status >= 500;
          if (!retry || attempts >= std::max(1, opts.retry_attempts)) break;
          std::cerr << "mock-provider: " << m.type << " " << m.message_id << " -> "
                    << (ans.status != 0 ? std::to_string(ans.status) : ans.error)
                    << "; retrying in " << backoff.count() << " ms\n";
          std::unique_lock lock(mu);
          if (cv.wait_for(lock, backoff, [&] { return stopping; })) break;
          backoff = std::min(backoff * 2, opts.retry_backoff_max);
        }
        sent_entry e{m.message_id, m.type, ans.status, ans.error, attempts};
        std::cerr << "mock-provider: sent " << e.type << " " << e.message_id << " -> "
                  << (ans.status != 0 ? std::to_string(ans.status) : ans.error) << "\n";
        std::lock_guard lock(mu);
        sent.push_back(std::move(e));
      }
    }
  }

  // ---- requests -------------------------------------------------------------------------------

  std::string log_json() {
    std::lock_guard lock(mu);
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    auto str = [&](const std::string& v) {
      return Value(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a);
    };
    Value rec(rapidjson::kArrayType);
    for (const auto& key : received_order) {
      const auto& e = received.at(key);
      Value o(rapidjson::kObjectType);
      o.AddMember("messageId", str(key.substr(key.find(' ') + 1)), a);
      o.AddMember("messageType", str(e.type), a);
      o.AddMember("caseId", str(e.case_id), a);
      o.AddMember("count", e.count, a);
      Value keys(rapidjson::kArrayType);
      for (const auto& k : e.idempotency_keys) keys.PushBack(str(k), a);
      o.AddMember("idempotencyKeys", keys, a);
      if (!e.signature.empty()) o.AddMember("signature", str(e.signature), a);
      rec.PushBack(o, a);
    }
    d.AddMember("received", rec, a);
    Value snt(rapidjson::kArrayType);
    for (const auto& e : sent) {
      Value o(rapidjson::kObjectType);
      o.AddMember("messageId", str(e.message_id), a);
      o.AddMember("messageType", str(e.type), a);
      o.AddMember("status", e.status, a);
      if (!e.error.empty()) o.AddMember("error", str(e.error), a);
      o.AddMember("attempts", e.attempts, a);
      snt.PushBack(o, a);
    }
    d.AddMember("sent", snt, a);
    Value rej(rapidjson::kArrayType);
    for (const auto& e : rejected) {
      Value o(rapidjson::kObjectType);
      o.AddMember("verdict", str(e.verdict), a);
      o.AddMember("detail", str(e.detail), a);
      o.AddMember("idempotencyKey", str(e.idempotency_key), a);
      rej.PushBack(o, a);
    }
    d.AddMember("rejected", rej, a);
    Value skp(rapidjson::kArrayType);
    for (const auto& e : skipped) {
      Value o(rapidjson::kObjectType);
      o.AddMember("messageType", str(e.type), a);
      o.AddMember("inReplyTo", str(e.in_reply_to), a);
      o.AddMember("reason", str(e.reason), a);
      skp.PushBack(o, a);
    }
    d.AddMember("skipped", skp, a);
    d.AddMember("mode", str(std::string(to_string(opts.mode))), a);
    d.AddMember("dialect", str(opts.dialect), a);
    return schemas::to_json_string(d) + "\n";
  }

  // Decodes a POSTed body with the dialect's adapter; false with `r` saying why.
  bool decode(const request& req, rapidjson::Document& msg, schemas::report& r) {
    if (canonical) {  // either canonical encoding, as the gateway's canonical dialects
      const auto enc = schemas::detect_encoding(req.body());
      const adapters::adapter* a =
          adapters.find(enc == schemas::encoding::json ? "canonical-json" : "canonical-xml");
      return a->to_canonical(req.body(), msg, r);
    }
    // As the gateway fills it from a request (operation, reference, caseId from the query), with
    // what a delivery carries: ODR-Case-Id and Idempotency-Key (the messageId).
    const std::string_view target = req.target();
    const std::string operation = query_param(target, "operation");
    const std::string reference = query_param(target, "reference");
    std::string case_id(req["ODR-Case-Id"]);
    if (case_id.empty()) case_id = query_param(target, "caseId");
    const std::string request_id(req["Idempotency-Key"].substr(0, 256));
    const std::string received_at = now_text();
    adapters::context ctx;
    ctx.partner_id = opts.party_id;
    ctx.partner_role = "odr-provider";
    ctx.operation = operation;
    ctx.reference = reference;
    ctx.case_id = case_id;
    ctx.request_id = request_id;
    ctx.received_at = received_at;
    return dialect->to_canonical(req.body(), ctx, msg, r);
  }

  // Checks ODR-Signature over the exact body; the verdict's name, "" without a secret.
  std::string check_signature(const request& req, std::string& detail) {
    if (opts.secret.empty()) return {};
    const auto check =
        gateway::verify_callback(opts.secret, req[gateway::signature_header], req.body(),
                                 std::time(nullptr), opts.signature_window_s);
    detail = check.detail;
    std::string verdict(gateway::to_string(check.verdict));
    if (check.verdict != gateway::callback_verdict::valid) {
      std::cerr << "mock-provider: refused a POST: ODR-Signature " << verdict << ": " << detail
                << "\n";
      std::lock_guard lock(mu);
      rejected.push_back({verdict, detail, std::string(req["Idempotency-Key"].substr(0, 256))});
    }
    return verdict;
  }

  asio::awaitable<response> handle(const request& req) {
    const unsigned v = req.version();
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (req.method() == http::verb::get && path == "/healthz")
      co_return answer(http::status::ok, v, "{\"status\":\"ok\"}\n", "application/json");
    if (req.method() == http::verb::get && path == "/mock/log")
      co_return answer(http::status::ok, v, log_json(), "application/json");
    if (req.method() != http::verb::post)
      co_return problem(http::status::method_not_allowed, v, "Method not allowed",
                        "POST a v1 message; GET /healthz or /mock/log", "method");
    std::string signature_detail;
    const std::string signature = check_signature(req, signature_detail);
    if (!signature.empty() && signature != "valid")
      co_return problem(http::status::unauthorized, v, "Invalid signature",
                        "ODR-Signature " + signature + ": " + signature_detail, signature,
                        gateway::signature_header);
    if (opts.mode == mock_mode::slow) {
      auto ex = co_await asio::this_coro::executor;
      asio::steady_timer t(ex, opts.slow);
      co_await t.async_wait(asio::use_awaitable);
    }
    if (opts.mode == mock_mode::reject_all)
      co_return problem(http::status::unprocessable_entity, v, "Rejected",
                        "this mock provider rejects every message (mode reject-all)",
                        "mock-reject-all");
    if (opts.mode == mock_mode::flaky) {
      unsigned char b = 0;
      RAND_bytes(&b, 1);
      if (b < opts.fail_rate * 256.0)
        co_return problem(http::status::service_unavailable, v, "Unavailable",
                          "a simulated failure (mode flaky); retry later", "mock-flaky");
    }
    rapidjson::Document msg;
    schemas::report r;
    if (!decode(req, msg, r)) {
      const auto& e = r.errors.empty() ? schemas::issue{} : r.errors.front();
      co_return problem(r.status == schemas::verdict::malformed
                            ? http::status::bad_request
                            : http::status::unprocessable_entity,
                        v, "Invalid message", e.message, e.rule, e.location);
    }
    const std::string key = std::string(text(child(msg, "sender"), "partyId")) + " " +
                            std::string(text(msg, "messageId"));
    bool first = false;
    std::string receipt;
    {
      std::lock_guard lock(mu);
      auto [it, inserted] = received.try_emplace(key);
      auto& e = it->second;
      ++e.count;
      const std::string idempotency_key(req["Idempotency-Key"].substr(0, 256));
      if (!idempotency_key.empty() &&
          std::find(e.idempotency_keys.begin(), e.idempotency_keys.end(), idempotency_key) ==
              e.idempotency_keys.end())
        e.idempotency_keys.push_back(idempotency_key);
      if (inserted) {
        first = true;
        received_order.push_back(key);
        e.type = std::string(text(msg, "messageType"));
        e.case_id = std::string(text(msg, "caseId"));
        e.signature = signature;
        remember_complainant(msg);
        static thread_local boost::uuids::random_generator uuid;
        e.receipt = "{\"receiptId\":\"" + boost::uuids::to_string(uuid()) + "\",\"messageId\":\"" +
                    std::string(text(msg, "messageId")) + "\",\"receivedAt\":\"" + now_text() +
                    "\"}\n";
      }
      receipt = e.receipt;
    }
    if (first) schedule(msg);
    co_return answer(first ? http::status::accepted : http::status::ok, v, receipt,
                     "application/json");
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
      asio::co_spawn(
          ioc,
          detail::serve_http(
              std::move(s),
              [this](const request& r) -> asio::awaitable<response> { return handle(r); },
              opts.slow + std::chrono::seconds(10)),
          asio::detached);
    }
  }
};

mock_provider::mock_provider(mock_options opts, std::shared_ptr<const schemas::schema_set> set)
    : impl_(std::make_unique<impl>(std::move(opts), std::move(set))) {}

mock_provider::~mock_provider() { stop(); }

std::string mock_provider::bind() {
  auto& i = *impl_;
  const tcp::endpoint ep(asio::ip::make_address(i.opts.listen_host), i.opts.listen_port);
  i.acceptor.open(ep.protocol());
  i.acceptor.set_option(tcp::acceptor::reuse_address(true));
  i.acceptor.bind(ep);
  i.acceptor.listen();
  const auto local = i.acceptor.local_endpoint();
  const std::string host = local.address().to_string();
  return (local.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(local.port());
}

void mock_provider::run() {
  auto& i = *impl_;
  i.sender_thread = std::jthread([&i](std::stop_token st) { i.send_loop(st); });
  i.signals.async_wait([&i](boost::system::error_code, int) { i.ioc.stop(); });
  asio::co_spawn(i.ioc, i.accept_loop(), asio::detached);
  i.ioc.run();
  stop();
}

void mock_provider::stop() {
  auto& i = *impl_;
  {
    std::lock_guard lock(i.mu);
    i.stopping = true;
  }
  i.cv.notify_all();
  i.ioc.stop();
  if (i.sender_thread.joinable()) i.sender_thread.join();
}

}  // namespace odrgw::conformance
