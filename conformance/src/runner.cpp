// The runner: plays a suite's cases against a target over HTTP(S) with the gateway's blocking
// client, and receives the target's results on a small in-process HTTP server.
#include <odrgw/conformance/suite.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/callback.hpp>
#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/http_client.hpp>
#include <odrgw/gateway/routing.hpp>
#include <odrgw/schemas/json.hpp>

#include <rapidjson/pointer.h>

#include "http_session.hpp"

namespace odrgw::conformance {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using rapidjson::Value;
using steady = std::chrono::steady_clock;

constexpr std::size_t excerpt_bytes = 2048;

std::string excerpt(std::string_view s) {
  if (s.size() <= excerpt_bytes) return std::string(s);
  return std::string(s.substr(0, excerpt_bytes)) + "... (" + std::to_string(s.size()) + " bytes)";
}

std::string new_uuid() {
  static thread_local boost::uuids::random_generator gen;
  return boost::uuids::to_string(gen());
}

std::string now_text() { return gateway::routing::format_time(gateway::routing::clock::now()); }

std::string_view embedded_file(std::string_view path) {
  for (const auto& f : embedded::conformance::files())
    if (f.path == path) return f.data;
  return {};
}

std::string str(const Value& v, const char* name) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString()
             ? std::string(it->value.GetString(), it->value.GetStringLength())
             : std::string();
}

bool parse(std::string_view text, rapidjson::Document& d) {
  schemas::json_error err;
  return schemas::parse_json(text, d, {}, err);
}

// ---- the results receiver ------------------------------------------------------------------

struct received_result {
  std::string body;
  std::string message_id, in_reply_to, type, case_id;
  int count = 0;  // deliveries of this messageId
};

class receiver {
 public:
  explicit receiver(const std::string& listen) {
    const auto l = gateway::parse_listen(listen, "--results-listen");
    const tcp::endpoint ep(asio::ip::make_address(l.host), l.port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    const auto local = acceptor_.local_endpoint();
    where_ = local.address().to_string() + ":" + std::to_string(local.port());
    asio::co_spawn(ioc_, accept_loop(), asio::detached);
    thread_ = std::jthread([this] { ioc_.run(); });
  }
  ~receiver() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  receiver(const receiver&) = delete;
  receiver& operator=(const receiver&) = delete;

  const std::string& where() const { return where_; }

  // The results in reply to `message_id`, with delivery counts.
  std::vector<received_result> replies_to(const std::string& message_id) {
    std::lock_guard lock(mu_);
    std::vector<received_result> out;
    for (const auto& id : order_) {
      const auto& r = results_.at(id);
      if (r.in_reply_to == message_id) out.push_back(r);
    }
    return out;
  }
  // What the receiver got that is not for the message awaited, for the report.
  std::string others() {
    std::lock_guard lock(mu_);
    std::string s = std::to_string(order_.size()) + " results in reply to other messages";
    if (unreadable_)
      s += ", " + std::to_string(unreadable_) +
           " posts that are not a JSON message (last: " + last_unreadable_ + ")";
    return s;
  }

 private:
  using response = http::response<http::string_body>;

  response handle(const http::request<http::string_body>& req) {
    response res{http::status::accepted, req.version()};
    res.set(http::field::content_type, "application/json");
    rapidjson::Document d;
    if (req.method() != http::verb::post || !parse(req.body(), d) || !d.IsObject() ||
        str(d, "messageId").empty()) {
      {
        std::lock_guard lock(mu_);
        ++unreadable_;
        last_unreadable_ = excerpt(req.body());
      }
      res.result(http::status::bad_request);
      res.set(http::field::content_type, "application/problem+json");
      res.body() =
          "{\"title\":\"Not a message\",\"status\":400,\"detail\":\"POST a v1 message (JSON)\"}\n";
      res.prepare_payload();
      return res;
    }
    const std::string id = str(d, "messageId");
    std::lock_guard lock(mu_);
    auto [it, inserted] = results_.try_emplace(id);
    auto& r = it->second;
    ++r.count;
    if (inserted) {
      order_.push_back(id);
      r.body = req.body();
      r.message_id = id;
      r.in_reply_to = str(d, "inReplyTo");
      r.type = str(d, "messageType");
      r.case_id = str(d, "caseId");
      rapidjson::Document receipt(rapidjson::kObjectType);
      auto& a = receipt.GetAllocator();
      receipt.AddMember("receiptId", Value(new_uuid().c_str(), a), a);
      receipt.AddMember("messageId", Value(id.c_str(), a), a);
      receipt.AddMember("receivedAt", Value(now_text().c_str(), a), a);
      receipts_[id] = schemas::to_json_string(receipt) + "\n";
    } else {
      res.result(http::status::ok);  // R-ENV-1: a repeat gets the first receipt again
    }
    res.body() = receipts_[id];
    res.prepare_payload();
    return res;
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket s = co_await acceptor_.async_accept(asio::use_awaitable);
      asio::co_spawn(
          ioc_,
          detail::serve_http(
              std::move(s),
              [this](const detail::http_request& r) -> asio::awaitable<detail::http_response> {
                co_return handle(r);
              },
              std::chrono::seconds(10)),
          asio::detached);
    }
  }

  asio::io_context ioc_{1};
  tcp::acceptor acceptor_{ioc_};
  std::string where_;
  std::jthread thread_;
  std::mutex mu_;
  std::map<std::string, received_result> results_;
  std::map<std::string, std::string> receipts_;
  std::vector<std::string> order_;
  std::size_t unreadable_ = 0;
  std::string last_unreadable_;
};

// ---- seeds -----------------------------------------------------------------------------------

struct invalid_seed {
  std::string file, message_type, location, rule;
};

std::vector<invalid_seed> invalid_seeds() {
  std::vector<invalid_seed> out;
  rapidjson::Document m;
  if (!parse(embedded_file("schemas/v1/examples/invalid/manifest.json"), m) || !m.IsArray())
    return out;
  for (const auto& e : m.GetArray()) {
    invalid_seed s{str(e, "file"), str(e, "messageType"), str(e, "location"), str(e, "rule")};
    // JSON seeds only: their locations are JSON pointers (the XML ones are paths in the XML).
    if (!s.file.ends_with(".json")) continue;
    // A seed whose own messageType differs is invalid only when validated as another type, which
    // an endpoint that reads messageType cannot know: its error is elsewhere, and right there.
    rapidjson::Document doc;
    if (parse(embedded_file("schemas/v1/examples/invalid/" + s.file), doc) &&
        str(doc, "messageType") != s.message_type)
      continue;
    out.push_back(std::move(s));
  }
  return out;
}

// ---- one case --------------------------------------------------------------------------------

struct item {
  std::string label;  // type or seed file ("" for a plain case)
  std::string type;
  const invalid_seed* seed = nullptr;
  std::filesystem::path file;  // sample-file
};

// v1's FreeText is the text a party, provider or neutral writes "in the envelope's language": a
// payload that carries one needs `language`. (ShortText, a title or one-line note, also appears in
// gateway events that have no language: the examples' deadline.notice sourceClause.)
bool carries_free_text(const schemas::node& n, const Value& v) {
  if (n.definition == "FreeText") return v.IsString();
  if (n.type == schemas::value_type::object && v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      const auto* p =
          n.find_property(std::string_view(m.name.GetString(), m.name.GetStringLength()));
      if (p && p->schema && carries_free_text(*p->schema, m.value)) return true;
    }
  } else if (n.type == schemas::value_type::array && v.IsArray() && n.items) {
    for (const auto& e : v.GetArray())
      if (carries_free_text(*n.items, e)) return true;
  }
  return false;
}

// R-TXT-1: the first string (value or member name) with a C0 control other than TAB, LF, CR.
bool find_control(const Value& v, std::string& pointer) {
  auto bad = [](const Value& s) {
    for (rapidjson::SizeType i = 0; i < s.GetStringLength(); ++i) {
      const auto c = static_cast<unsigned char>(s.GetString()[i]);
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return true;
    }
    return false;
  };
  if (v.IsString()) return bad(v);
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      const std::size_t len = pointer.size();
      schemas::append_pointer_token(pointer,
                                    std::string_view(m.name.GetString(), m.name.GetStringLength()));
      if (bad(m.name) || find_control(m.value, pointer)) return true;
      pointer.resize(len);
    }
  } else if (v.IsArray()) {
    rapidjson::SizeType i = 0;
    for (const auto& e : v.GetArray()) {
      const std::size_t len = pointer.size();
      pointer += "/" + std::to_string(i++);
      if (find_control(e, pointer)) return true;
      pointer.resize(len);
    }
  }
  return false;
}

class case_runner {
 public:
  case_runner(const run_options& o, const suite_def& s,
              const std::shared_ptr<const schemas::schema_set>& set, receiver* rcv,
              std::chrono::milliseconds time_bound)
      : o_(o),
        suite_(s),
        set_(*set),
        rcv_(rcv),
        time_bound_(time_bound),
        adapters_(adapters::registry::builtin(set)) {}

  void run(const item& it, const Value& steps, case_result& out) {
    item_ = &it;
    sent_.clear();
    sent_id_.clear();
    sent_case_id_.clear();
    built_id_.clear();
    prev_receipt_.clear();
    sent_headers_.clear();
    vars_.clear();
    acknowledged_.clear();
    for (const auto& step : steps.GetArray()) {
      const std::size_t before = out.failures.size();
      run_step(step, out);
      if (out.failures.size() != before) return;  // later steps build on this one
    }
  }

 private:
  void fail(case_result& out, const std::string& what) {
    out.failures.push_back(item_->label.empty() ? what : item_->label + ": " + what);
  }

  std::string subst(std::string v) const {
    auto rep = [&](std::string_view var, const std::string& val) {
      for (auto p = v.find(var); p != std::string::npos; p = v.find(var, p + val.size()))
        v.replace(p, var.size(), val);
    };
    rep("${type}", item_->type);
    rep("${file}", item_->seed ? item_->seed->file : "");
    rep("${first-claimed-type}", o_.claimed.message_types.front());
    for (const auto& [name, val] : vars_) rep("${" + name + "}", val);
    return v;
  }

  // A step's string after substitution; false (with a failure) when a ${variable} is unknown,
  // e.g. ${case-id} before any receipt named a case.
  bool subst_known(const std::string& in, std::string& v, case_result& out) {
    v = subst(in);
    if (const auto p = v.find("${"); p != std::string::npos) {
      fail(out, "runner: no value for " + v.substr(p, v.find('}', p) - p + 1) + " yet");
      return false;
    }
    return true;
  }

  // Builds the message a step sends; "" with a failure reason when the runner has no seed.
  std::string build_message(const Value& spec, std::string& why, case_result& out) {
    const std::string seed = str(spec, "seed");
    if (seed == "invalid") {
      const std::string file = subst(str(spec, "file"));
      const auto text = embedded_file("schemas/v1/examples/invalid/" + file);
      if (text.empty()) why = "no invalid seed " + file;
      return std::string(text);
    }
    const std::string type = subst(str(spec, "type"));
    rapidjson::Document d;
    if (!parse(embedded_file("schemas/v1/examples/valid/" + type + ".json"), d) || !d.IsObject()) {
      why = "no valid seed for message type " + type;
      return {};
    }
    auto& a = d.GetAllocator();
    auto set = [&](const char* name, const std::string& v) {
      if (auto m = d.FindMember(name); m != d.MemberEnd()) d.RemoveMember(m);
      d.AddMember(Value(name, a), Value(v.c_str(), a), a);
    };
    built_id_ = new_uuid();
    set("messageId", built_id_);  // fresh per message: runs never collide
    auto fwd = spec.FindMember("forward");
    if (fwd != spec.MemberEnd() && fwd->value.IsBool() && fwd->value.GetBool()) {
      // As the gateway forwards it to the provider: addressed to it, with the case id (R-ENV-5).
      if (!d.HasMember("caseId")) set("caseId", "conf-" + new_uuid().substr(0, 18));
      Value rcp(rapidjson::kObjectType);
      rcp.AddMember("partyId", Value(o_.claimed.party_id.c_str(), a), a);
      rcp.AddMember("role", "odr-provider", a);
      if (auto m = d.FindMember("recipient"); m != d.MemberEnd()) d.RemoveMember(m);
      d.AddMember("recipient", rcp, a);
    }
    if (auto oc = spec.FindMember("onCase");
        oc != spec.MemberEnd() && oc->value.IsBool() && oc->value.GetBool()) {
      // The case this run opened: its id and the proceeding it is in now (the last receipt's).
      if (!vars_.contains("case-id")) {
        why = "onCase before any receipt named a case";
        return {};
      }
      set("caseId", vars_["case-id"]);
      if (vars_.contains("proceeding-id")) set("proceedingId", vars_["proceeding-id"]);
    }
    if (auto sm = spec.FindMember("set"); sm != spec.MemberEnd() && sm->value.IsObject()) {
      for (const auto& m : sm->value.GetObject()) {
        const std::string ptr(m.name.GetString(), m.name.GetStringLength());
        const rapidjson::Pointer where(ptr.c_str(), ptr.size());
        if (!where.IsValid()) {
          why = "set: '" + ptr + "' is not a JSON pointer";
          return {};
        }
        if (m.value.IsNull()) {
          where.Erase(d);
        } else if (m.value.IsString()) {
          std::string v;
          if (!subst_known(std::string(m.value.GetString(), m.value.GetStringLength()), v, out))
            return {};
          where.Set(d, Value(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a), a);
        } else {
          where.Set(d, Value(m.value, a), a);
        }
      }
    }
    if (str(spec, "encoding") == "xml") {
      const adapters::adapter* x = adapters_.find("canonical-xml");
      std::string xml;
      schemas::report r;
      if (!x || !x->from_canonical(d, xml, r)) {
        why = "the " + type + " seed does not translate to XML";
        return {};
      }
      content_type_ = "application/xml";
      return xml;
    }
    return schemas::to_json_string(d);
  }

  // The headers of a delivery to a callback_url, as gateway/src/delivery.cpp sends them: the
  // message's id (twice), case and type; a body that is not a message gets a fresh id.
  static std::vector<std::pair<std::string, std::string>> delivery_headers(
      const std::string& body) {
    rapidjson::Document d;
    const bool msg = parse(body, d) && d.IsObject();
    const std::string id = msg && !str(d, "messageId").empty() ? str(d, "messageId") : new_uuid();
    std::vector<std::pair<std::string, std::string>> h = {{"Idempotency-Key", id},
                                                          {"ODR-Message-Id", id}};
    if (msg && !str(d, "messageType").empty())
      h.emplace_back("ODR-Message-Type", str(d, "messageType"));
    if (msg && !str(d, "caseId").empty()) h.emplace_back("ODR-Case-Id", str(d, "caseId"));
    return h;
  }

  // POSTs with the bearer token, `extra` headers and, with a secret, ODR-Signature (signature:
  // "" valid, "none" left out, "bad" made with another secret, "stale" a valid signature made an
  // hour ago: a replay outside any receiver's window).
  gateway::http_answer post(const std::string& body, const std::string& label,
                            const std::vector<std::pair<std::string, std::string>>& extra,
                            const std::string& signature, const std::string& auth,
                            case_result& out) {
    std::vector<std::pair<std::string, std::string>> headers = extra;
    if (!o_.secret.empty() && signature != "none") {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      const auto t = signature == "stale" ? now - 3600 : now;
      headers.emplace_back(
          std::string(gateway::signature_header),
          gateway::sign_callback(signature == "bad" ? "not-" + o_.secret : o_.secret, t, body));
    }
    std::string shown = "POST " + o_.target + "\n";
    for (const auto& [k, v] : headers) shown += k + ": " + v + "\n";
    if (auth == "wrong") {
      headers.emplace_back("Authorization", "Bearer conformance-no-such-key-" + new_uuid());
      shown += "Authorization: Bearer (a key no partner has)\n";
    } else if (auth != "none" && !o_.token.empty()) {
      headers.emplace_back("Authorization", "Bearer " + o_.token);
    }
    gateway::client_options co;
    co.timeout = o_.request_timeout;
    co.ca_file = o_.ca_file;
    const auto t0 = steady::now();
    auto ans = gateway::http_post(o_.target, body, content_type_, headers, co);
    content_type_ = "application/json";
    last_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count();
    out.exchanges.push_back({label, shown + "\n" + excerpt(body), ans.status,
                             ans.status ? excerpt(ans.body) : "(no answer: " + ans.error + ")",
                             last_ms_});
    return ans;
  }

  void run_step(const Value& step, case_result& out) {
    const std::string action = str(step, "action");
    const std::string label = item_->label.empty() ? action : action + " " + item_->label;
    static const Value no_expect(rapidjson::kObjectType);
    auto e = step.FindMember("expect");
    const Value& expect = e != step.MemberEnd() ? e->value : no_expect;
    if (action == "wait-results") return wait_results(step, expect, out);
    if (action == "check-file") return check_file(str(step, "check"), out);
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    const std::size_t before = out.failures.size();
    if (action == "send" || action == "send-invalid") {
      std::string why;
      auto m = step.FindMember("message");
      body = m != step.MemberEnd() ? build_message(m->value, why, out) : std::string();
      if (out.failures.size() != before) return;
      if (body.empty()) return fail(out, "runner: " + (why.empty() ? "no message" : why));
    } else if (action == "send-malformed") {
      body = str(step, "body");
    } else if (action == "send-duplicate") {
      // Again, byte for byte, with the same headers (a redelivery is signed anew).
      if (sent_.empty()) return fail(out, "runner: send-duplicate with nothing sent before");
      body = sent_;
      headers = sent_headers_;
    } else if (action == "query") {
      return query(step, expect, label, out);
    }
    if (action != "send-duplicate" && step.HasMember("delivery") && step["delivery"].GetBool())
      headers = delivery_headers(body);
    const auto ans = post(body, label, headers, str(step, "signature"), str(step, "auth"), out);
    if (action == "send") {
      rapidjson::Document d;
      parse(body, d);
      sent_ = body;
      sent_headers_ = headers;
      // The id the runner gave it (an XML body has no JSON member to read it back from).
      sent_id_ = built_id_.empty() ? str(d, "messageId") : built_id_;
      vars_["last-message-id"] = sent_id_;
      // The case the message was sent on (a provider's receipt need not name it): later steps
      // go on with it (${sent-case-id}), and its results must name it (sameCase).
      sent_case_id_ = str(d, "caseId");
      if (!sent_case_id_.empty()) vars_["sent-case-id"] = sent_case_id_;
    }
    check(expect, ans, out);
    if (ans.status >= 200 && ans.status < 300) {
      prev_receipt_ = ans.body;
      if (action == "send") acknowledged_.push_back(sent_id_);
      // The case the receipt names: later steps can go on with it (onCase, ${case-id}).
      rapidjson::Document r;
      if (parse(ans.body, r) && r.IsObject()) {
        if (!str(r, "caseId").empty()) vars_["case-id"] = str(r, "caseId");
        if (!str(r, "proceedingId").empty()) vars_["proceeding-id"] = str(r, "proceedingId");
        capture(step, r, out);
      }
    }
  }

  // The step's captures from a 2xx JSON answer into variables (a missing one fails the step).
  void capture(const Value& step, const Value& answer, case_result& out) {
    auto c = step.FindMember("capture");
    if (c == step.MemberEnd()) return;
    for (const auto& m : c->value.GetObject()) {
      const Value* v =
          rapidjson::Pointer(m.value.GetString(), m.value.GetStringLength()).Get(answer);
      if (v == nullptr || !v->IsString() || v->GetStringLength() == 0) {
        fail(out, std::string("the answer has no string at ") + m.value.GetString());
        continue;
      }
      vars_[m.name.GetString()] = std::string(v->GetString(), v->GetStringLength());
    }
  }

  void query(const Value& step, const Value& expect, const std::string& label, case_result& out) {
    // The target's origin plus the step's path.
    std::string url = o_.target;
    const auto scheme = url.find("://");
    const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (slash != std::string::npos) url.resize(slash);
    std::string path;
    if (!subst_known(str(step, "path"), path, out)) return;
    url += path;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!o_.token.empty()) headers.emplace_back("Authorization", "Bearer " + o_.token);
    gateway::client_options co;
    co.timeout = o_.request_timeout;
    co.ca_file = o_.ca_file;
    const auto t0 = steady::now();
    const auto ans = gateway::http_get(url, headers, co);
    last_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count();
    out.exchanges.push_back({label, "GET " + url, ans.status,
                             ans.status ? excerpt(ans.body) : "(no answer: " + ans.error + ")",
                             last_ms_});
    check(expect, ans, out);
    rapidjson::Document r;
    if (ans.status >= 200 && ans.status < 300 && parse(ans.body, r) && r.IsObject()) {
      capture(step, r, out);
      if (expect.HasMember("listsSent") && expect["listsSent"].GetBool()) lists_sent(r, out);
    }
  }

  // ODR-SI 6.2.9 (archive): the case's record holds every message of it that was acknowledged.
  void lists_sent(const Value& answer, case_result& out) {
    auto m = answer.FindMember("messages");
    if (m == answer.MemberEnd() || !m->value.IsArray())
      return fail(out, "the answer has no messages[]");
    for (const auto& id : acknowledged_) {
      const bool found = std::any_of(m->value.Begin(), m->value.End(),
                                     [&](const Value& e) { return str(e, "messageId") == id; });
      if (!found)
        fail(out, "message " + id + " was acknowledged but is not in the case's messages");
    }
  }

  static bool is_type(const gateway::http_answer& a, std::string_view t) {
    std::string_view ct = a.content_type;
    if (auto semi = ct.find(';'); semi != std::string_view::npos) ct = ct.substr(0, semi);
    return ct == t;
  }

  void check(const Value& expect, const gateway::http_answer& ans, case_result& out) {
    if (ans.status == 0) return fail(out, "no answer: " + ans.error);
    if (auto s = expect.FindMember("status"); s != expect.MemberEnd()) {
      bool ok = false;
      std::string want;
      for (const auto& v : s->value.GetArray()) {
        ok = ok || v.GetInt() == ans.status;
        want += (want.empty() ? "" : " or ") + std::to_string(v.GetInt());
      }
      if (!ok) fail(out, "status " + std::to_string(ans.status) + ", expected " + want);
    }
    if (auto s = expect.FindMember("statusClass"); s != expect.MemberEnd()) {
      const int cls = s->value.GetString()[0] - '0';
      if (ans.status / 100 != cls)
        fail(out, "status " + std::to_string(ans.status) + ", expected " + s->value.GetString());
    }
    if (auto w = expect.FindMember("withinMs"); w != expect.MemberEnd()) {
      const long long bound = w->value.IsInt() ? w->value.GetInt() : time_bound_.count();
      if (last_ms_ > bound)
        fail(out, "answered after " + std::to_string(last_ms_) + " ms, bound " +
                      std::to_string(bound) + " ms");
    }
    rapidjson::Document body;
    const bool is_json = parse(ans.body, body) && body.IsObject();
    if (auto j = expect.FindMember("json"); j != expect.MemberEnd() && j->value.GetBool()) {
      if (!is_type(ans, "application/json"))
        fail(out, "content type '" + ans.content_type + "', expected application/json");
      if (!is_json) fail(out, "the answer is not a JSON object");
    }
    if (auto p = expect.FindMember("problem"); p != expect.MemberEnd())
      check_problem(p->value, ans, body, is_json, out);
    if (auto r = expect.FindMember("receipt"); r != expect.MemberEnd())
      check_receipt(r->value, body, is_json, out);
    if (auto st = expect.FindMember("state"); st != expect.MemberEnd()) {
      const std::string ptr = str(st->value, "pointer"), want = str(st->value, "equals");
      const Value* v = is_json ? rapidjson::Pointer(ptr.c_str()).Get(body) : nullptr;
      if (!v || !v->IsString() || want != v->GetString())
        fail(out, "state at " + ptr + " is not '" + want + "'");
    }
  }

  void check_problem(const Value& p, const gateway::http_answer& ans,
                     const rapidjson::Document& body, bool is_json, case_result& out) {
    if (!is_type(ans, "application/problem+json"))
      fail(out, "content type '" + ans.content_type + "', expected application/problem+json");
    if (!is_json) return fail(out, "the problem answer is not a JSON object");
    if (str(body, "title").empty()) fail(out, "problem+json without a title");
    if (auto s = body.FindMember("status");
        s != body.MemberEnd() && (!s->value.IsInt() || s->value.GetInt() != ans.status))
      fail(out, "problem+json status differs from the HTTP status");
    if (auto t = p.FindMember("type"); t != p.MemberEnd()) {
      const std::string want = t->value.GetString(), got = str(body, "type");
      if (got != want && !got.ends_with(":" + want))
        fail(out, "problem type '" + got + "', expected " + want);
    }
    if (auto s = p.FindMember("state");
        s != p.MemberEnd() && str(body, "state") != s->value.GetString())
      fail(out, "problem state '" + str(body, "state") + "', expected " + s->value.GetString());
    if (auto al = p.FindMember("allowed"); al != p.MemberEnd() && al->value.GetBool()) {
      auto a = body.FindMember("allowed");
      if (a == body.MemberEnd() || !a->value.IsArray() || a->value.Empty() ||
          !std::all_of(a->value.Begin(), a->value.End(),
                       [](const Value& x) { return x.IsString(); }))
        fail(out, "problem+json without allowed[] (what the state allows)");
    }
    const bool want_errors = p.HasMember("errors") && p["errors"].GetBool();
    const bool want_locates = p.HasMember("locates") && p["locates"].GetBool();
    if (!want_errors && !want_locates) return;
    auto e = body.FindMember("errors");
    if (e == body.MemberEnd() || !e->value.IsArray() || e->value.Empty())
      return fail(out, "problem+json without errors[]");
    bool located = false;
    const std::string want = item_->seed ? item_->seed->location : "";
    for (const auto& err : e->value.GetArray()) {
      if (!err.IsObject() || !err.HasMember("location") || !err["location"].IsString() ||
          str(err, "rule").empty() || str(err, "message").empty())
        return fail(out, "an errors[] entry lacks location, rule or message");
      const std::string loc = str(err, "location");
      located = located || loc == want || loc.starts_with(want + "/");
    }
    if (want_locates && item_->seed && !located)
      fail(out, "no error at '" + want + "' (" + item_->seed->rule + "); the answer locates '" +
                    str(e->value[0], "location") + "'");
  }

  void check_receipt(const Value& r, const rapidjson::Document& body, bool is_json,
                     case_result& out) {
    if (!is_json) return fail(out, "the receipt is not a JSON object");
    if (auto f = r.FindMember("fields"); f != r.MemberEnd())
      for (const auto& name : f->value.GetArray()) {
        // A field is present when it is a non-empty string or a number (auditSeq).
        const auto m = body.FindMember(name.GetString());
        const bool number = m != body.MemberEnd() && m->value.IsNumber();
        if (!number && str(body, name.GetString()).empty())
          fail(out, std::string("the receipt has no ") + name.GetString());
      }
    if (r.HasMember("echoesMessageId") && r["echoesMessageId"].GetBool() &&
        str(body, "messageId") != sent_id_)
      fail(out, "the receipt's messageId '" + str(body, "messageId") + "' is not the one sent (" +
                    sent_id_ + ")");
    if (r.HasMember("sameAsPrevious") && r["sameAsPrevious"].GetBool()) {
      rapidjson::Document prev;
      if (!parse(prev_receipt_, prev) || !prev.IsObject())
        return fail(out, "runner: no earlier receipt to compare with");
      if (str(body, "receiptId") != str(prev, "receiptId"))
        fail(out, "a repeat got receipt '" + str(body, "receiptId") + "', the first got '" +
                      str(prev, "receiptId") + "'");
    }
  }

  void wait_results(const Value& step, const Value& expect, case_result& out) {
    if (!rcv_) return fail(out, "runner: no results receiver");
    if (sent_id_.empty()) return fail(out, "runner: wait-results with nothing sent before");
    const int min_count = expect.HasMember("minCount") ? expect["minCount"].GetInt() : 1;
    const auto timeout =
        std::chrono::milliseconds(step.HasMember("timeoutMs") ? step["timeoutMs"].GetInt() : 10000);
    const auto settle =
        std::chrono::milliseconds(step.HasMember("settleMs") ? step["settleMs"].GetInt() : 0);
    const auto t0 = steady::now();
    auto got = rcv_->replies_to(sent_id_);
    while (static_cast<int>(got.size()) < min_count && steady::now() - t0 < timeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      got = rcv_->replies_to(sent_id_);
    }
    // Results keep coming for a moment: repeats show only if we wait.
    std::this_thread::sleep_for(settle);
    got = rcv_->replies_to(sent_id_);
    const long long ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count();
    std::string seen;
    for (const auto& g : got) seen += excerpt(g.body) + "\n";
    out.exchanges.push_back(
        {"wait-results", "results in reply to " + sent_id_ + " at " + rcv_->where(),
         static_cast<int>(got.size()), seen.empty() ? "(none; " + rcv_->others() + ")" : seen, ms});
    if (static_cast<int>(got.size()) < min_count)
      return fail(out, std::to_string(got.size()) + " results in reply to " + sent_id_ +
                           " within " + std::to_string(timeout.count()) +
                           " ms, expected at least " + std::to_string(min_count));
    if (expect.HasMember("schemaValid") && expect["schemaValid"].GetBool())
      for (const auto& g : got) {
        rapidjson::Document d;
        schemas::report r;
        if (!parse(g.body, d)) {
          fail(out, "result " + g.message_id + " is not JSON");
          continue;
        }
        set_.validate_json(d, "", r);
        if (!r.valid())
          fail(out, "result " + g.message_id + " (" + str(d, "messageType") + ") breaks v1 at '" +
                        (r.errors.empty() ? ""
                                          : r.errors[0].location + "' (" + r.errors[0].rule +
                                                "): " + r.errors[0].message));
      }
    if (expect.HasMember("sameCase") && expect["sameCase"].GetBool())
      for (const auto& g : got)
        if (g.case_id != sent_case_id_)
          fail(out, "result " + g.message_id + " (" + g.type + ") names case '" + g.case_id +
                        "', not the case of the message it answers ('" + sent_case_id_ + "')");
    if (auto rt = expect.FindMember("resultTypes"); rt != expect.MemberEnd()) {
      // Each type arrived, and the first of each in the listed order (ODR-SI 6.2.5: the neutral
      // is appointed before the mediation proposes; the state machine in docs/routing.md).
      std::size_t last = 0;
      std::string last_type, arrived;
      for (const auto& g : got) arrived += (arrived.empty() ? "" : ", ") + g.type;
      for (const auto& t : rt->value.GetArray()) {
        const std::string want(t.GetString(), t.GetStringLength());
        const auto at = std::find_if(got.begin(), got.end(),
                                     [&](const received_result& g) { return g.type == want; });
        if (at == got.end()) {
          fail(out, "no " + want + " in reply to " + sent_id_ +
                        " (arrived: " + (arrived.empty() ? "nothing" : arrived) + ")");
          continue;
        }
        const auto pos = static_cast<std::size_t>(at - got.begin()) + 1;
        if (pos < last)
          fail(out, want + " arrived before " + last_type + " (arrived: " + arrived + ")");
        last = pos;
        last_type = want;
      }
    }
    if (expect.HasMember("uniqueMessageIds") && expect["uniqueMessageIds"].GetBool())
      for (const auto& g : got)
        if (g.count > 1)
          fail(out, "result " + g.message_id + " was delivered " + std::to_string(g.count) +
                        " times although the first delivery got a 2xx receipt");
  }

  void check_file(const std::string& check, case_result& out) {
    std::ifstream in(item_->file, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (!in && !in.eof()) return fail(out, "cannot read the file");
    if (bytes.size() > (16u << 20)) return fail(out, "larger than 16 MiB");
    auto note = [&](const std::string& what) {
      fail(out, what);
      out.exchanges.push_back(
          {item_->label, item_->file.string() + "\n" + excerpt(bytes), 0, check + ": " + what, 0});
    };
    if (check == "schema") {
      const auto r = set_.validate(bytes);
      if (!r.valid()) {
        const auto e = r.errors.empty() ? schemas::issue{} : r.errors.front();
        note(std::string(to_string(r.status)) + " at '" + e.location + "' (" + e.rule +
             "): " + e.message);
      }
      return;
    }
    // The profile rules are read on the canonical JSON form, whatever the encoding; a file that
    // breaks its schema is messages.schema-valid's failure, not checked again here.
    const auto enc = schemas::detect_encoding(bytes);
    const adapters::adapter* a =
        adapters_.find(enc == schemas::encoding::json ? "canonical-json" : "canonical-xml");
    rapidjson::Document msg;
    schemas::report r;
    if (!a || !a->to_canonical(bytes, msg, r)) return;
    const std::string type = str(msg, "messageType");
    if (check == "R-ENV-2") {
      const auto* def = set_.model().find(type);
      auto p = msg.FindMember("payload");
      const schemas::node* payload = nullptr;
      if (def && def->root)
        if (const auto* prop = def->root->find_property("payload")) payload = prop->schema;
      if (payload && p != msg.MemberEnd() && carries_free_text(*payload, p->value) &&
          str(msg, "language").empty())
        note("the payload carries free text but the envelope has no language");
    } else if (check == "R-ENV-3") {
      static constexpr std::array<std::string_view, 4> answers = {
          "dispute.acceptance", "dispute.response", "negotiation.offer-response",
          "outcome.confirmation"};
      if (std::find(answers.begin(), answers.end(), type) != answers.end() &&
          str(msg, "inReplyTo").empty())
        note(type + " is an answer but has no inReplyTo");
    } else if (check == "R-TXT-1") {
      std::string pointer;
      if (find_control(msg, pointer))
        note("a control character in the string at '" + pointer + "'");
    }
  }

  const run_options& o_;
  const suite_def& suite_;
  const schemas::schema_set& set_;
  receiver* rcv_;
  std::chrono::milliseconds time_bound_;
  const item* item_ = nullptr;
  std::string sent_, sent_id_, sent_case_id_, prev_receipt_;
  std::vector<std::pair<std::string, std::string>> sent_headers_;  // of the last send
  std::map<std::string, std::string> vars_;  // ${case-id}, ${proceeding-id}, captures...
  std::vector<std::string> acknowledged_;    // messageIds sent with a 2xx answer
  std::string built_id_;                     // the messageId of the last seed built
  long long last_ms_ = 0;
  std::string content_type_ = "application/json";  // of the next post
  adapters::registry adapters_;
};

}  // namespace

run_result run_suite(const suite_def& suite, const run_options& opts,
                     std::shared_ptr<const schemas::schema_set> set) {
  for (const auto& id : opts.only_cases)
    if (std::none_of(suite.cases.begin(), suite.cases.end(),
                     [&](const case_def& c) { return c.id == id; }))
      throw std::runtime_error("suite " + suite.id + " has no case '" + id + "'");
  run_options eff = opts;
  if (!opts.claimed.types_claimed && !suite.default_message_types.empty())
    eff.claimed.message_types = suite.default_message_types;
  if (eff.claimed.message_types.empty())
    throw std::runtime_error("the claims name no message type");
  std::unique_ptr<receiver> rcv;
  if (!opts.results_listen.empty()) {
    rcv = std::make_unique<receiver>(opts.results_listen);
    if (opts.progress) opts.progress("results receiver listening on " + rcv->where());
  }
  run_result r;
  r.suite = suite.id;
  r.suite_version = suite.version;
  r.spec_version = std::string(set->model().spec_version());  // the schema set actually used
  r.target = opts.target;
  r.claimed = eff.claimed;
  const auto bound = opts.time_bound.value_or(suite.time_bound);
  r.time_bound_ms = bound.count();
  r.started_at = now_text();
  const auto seeds = invalid_seeds();
  std::vector<std::filesystem::path> samples;
  if (suite.target_kind == "directory") {
    std::error_code ec;
    if (!std::filesystem::is_directory(opts.target, ec))
      throw std::runtime_error("suite " + suite.id + " needs a directory as --target; " +
                               opts.target + " is not one");
    for (const auto& e : std::filesystem::directory_iterator(opts.target, ec))
      if (e.is_regular_file() &&
          (e.path().extension() == ".json" || e.path().extension() == ".xml"))
        samples.push_back(e.path());
    std::sort(samples.begin(), samples.end());
  }
  case_runner runner(eff, suite, set, rcv.get(), bound);
  std::vector<const case_def*> todo;
  for (const auto& c : suite.cases)
    if (opts.only_cases.empty() ||
        std::find(opts.only_cases.begin(), opts.only_cases.end(), c.id) != opts.only_cases.end())
      todo.push_back(&c);
  std::size_t n = 0;
  for (const case_def* c : todo) {
    case_result cr;
    cr.def = *c;
    const auto t0 = steady::now();
    std::vector<item> items;
    if (c->for_each == "claimed-type") {
      for (const auto& t : eff.claimed.message_types) items.push_back({t, t, nullptr, {}});
    } else if (c->for_each == "invalid-seed") {
      for (const auto& s : seeds)
        if (std::find(eff.claimed.message_types.begin(), eff.claimed.message_types.end(),
                      s.message_type) != eff.claimed.message_types.end())
          items.push_back({s.file, s.message_type, &s, {}});
    } else if (c->for_each == "sample-file") {
      for (const auto& f : samples) items.push_back({f.filename().string(), "", nullptr, f});
    } else {
      items.push_back({"", "", nullptr, {}});
    }
    // A procedure not claimed makes the case not applicable, even where the runner could not
    // check it (no receiver): it is not the target's to pass.
    if (!c->requires_procedure.empty() &&
        std::find(opts.claimed.procedures.begin(), opts.claimed.procedures.end(),
                  c->requires_procedure) == opts.claimed.procedures.end()) {
      cr.status = case_status::not_applicable;
      cr.reason = "the claims' procedures do not include " + c->requires_procedure;
    } else if (c->requires_claim == "sendsResults" && !opts.claimed.sends_results) {
      cr.status = case_status::not_applicable;
      cr.reason = "the claims do not include sendsResults";
    } else if (c->requires_claim == "sendsResults" && !rcv) {
      cr.status = case_status::skipped;
      cr.reason = "the target claims sendsResults but no --results-listen receiver was given";
    } else if (c->requires_claim == "verifiesSignatures" && !opts.claimed.verifies_signatures) {
      cr.status = case_status::not_applicable;
      cr.reason = "the claims do not include verifiesSignatures";
    } else if (c->requires_claim == "verifiesSignatures" && opts.secret.empty()) {
      cr.status = case_status::skipped;
      cr.reason = "the target claims verifiesSignatures but no --secret-file was given";
    } else if (items.empty()) {
      cr.status = case_status::not_applicable;
      cr.reason = suite.target_kind == "directory"
                      ? "no *.json or *.xml file in the directory"
                      : "no seed message for the claimed message types";
    } else {
      rapidjson::Document steps;
      parse(c->steps_json, steps);  // written by parse_suite: it parses
      for (const auto& it : items) runner.run(it, steps, cr);
      cr.status = cr.failures.empty() ? case_status::passed : case_status::failed;
    }
    cr.elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count();
    ++n;
    if (opts.progress) {
      std::string line = "[" + std::to_string(n) + "/" + std::to_string(todo.size()) + "] " +
                         c->id + " (" + c->requirement + ", " + c->severity +
                         "): " + std::string(to_string(cr.status)) + " in " +
                         std::to_string(cr.elapsed_ms) + " ms";
      if (!cr.failures.empty()) line += "\n    " + cr.failures.front();
      if (!cr.reason.empty()) line += "\n    " + cr.reason;
      opts.progress(line);
    }
    r.cases.push_back(std::move(cr));
  }
  r.finished_at = now_text();
  return r;
}

}  // namespace odrgw::conformance
