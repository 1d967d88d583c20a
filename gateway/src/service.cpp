#include "service.hpp"
#include "util.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include <openssl/evp.h>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>

#include <odrgw/gateway/embedded.hpp>
#include <odrgw/gateway/problem.hpp>

namespace odrgw::gateway {
namespace asio = boost::asio;

namespace {

std::string sha256_hex(std::string_view data) { return detail::to_hex(detail::sha256(data)); }

std::string now_rfc3339() { return detail::format_utc_ms(detail::clock::now()); }

response make_response(http::status status, unsigned version, std::string body,
                       std::string_view content_type) {
  response res{status, version};
  res.set(http::field::server, "odrgw");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response problem_response(const problem& p, unsigned version) {
  return make_response(static_cast<http::status>(p.status), version, to_json(p),
                       "application/problem+json");
}

problem simple_problem(int status, std::string type, std::string title, std::string detail) {
  problem p;
  p.status = status;
  p.type = "urn:odrgw:problem:" + type;
  p.title = std::move(title);
  p.detail = std::move(detail);
  return p;
}

std::string_view media_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view m = content_type.substr(0, semi);
  while (!m.empty() && m.back() == ' ') m.remove_suffix(1);
  return m;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string json_escape(std::string_view s) { return schemas::json_quoted(s); }

// Awaits a storage write: the writer thread completes it, the coroutine resumes on its own
// executor.
template <typename Submit, typename Result>
asio::awaitable<Result> await_storage(Submit submit) {
  auto initiate = [submit = std::move(submit)](auto handler) mutable {
    auto ex = asio::get_associated_executor(handler);
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    submit([h, ex](Result r) mutable {
      asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
    });
  };
  Result r = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Result)>(
      std::move(initiate), asio::use_awaitable);
  co_return r;
}

// Header values and targets are meant to be ASCII; anything else is written as \xHH, so a hostile
// byte can neither break the audit record's JSON nor slip past the audit log.
std::string printable(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

// What every audit record says about the request: never headers with secrets, never the body in
// clear.
rapidjson::Document request_summary(const request& req, const peer_info& peer,
                                    const std::string& body_sha256) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto str = [&](std::string_view s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  d.AddMember("method", str(req.method_string()), a);
  d.AddMember("target", str(printable(req.target())), a);
  d.AddMember("peer", str(peer.address), a);
  d.AddMember("contentType", str(printable(req[http::field::content_type])), a);
  if (peer.body_unread) {
    // Refused on the header: the body was never read, only its announced length is known.
    d.AddMember("bodyRead", false, a);
    d.AddMember("contentLength", str(printable(req[http::field::content_length])), a);
    return d;
  }
  d.AddMember("bodySha256", str(body_sha256), a);
  d.AddMember("bodyBytes", static_cast<uint64_t>(req.body().size()), a);
  return d;
}

// The message is valid here, but never trust that twice.
constexpr auto member = &schemas::string_member;
constexpr auto child = &schemas::member_or_empty;

// `o.inDialect`: the canonical message in the partner's dialect (an object for JSON dialects, the
// document text for XML ones), or the reason it has none.
void add_in_dialect(rapidjson::Value& o, const rapidjson::Value& canonical,
                    const adapters::adapter& dialect, const partner_config& partner,
                    std::string_view reference, rapidjson::Document::AllocatorType& a) {
  auto str = [&](std::string_view s) {
    return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  rapidjson::Value v(rapidjson::kObjectType);
  v.AddMember("dialect", str(dialect.id()), a);
  const auto mt = canonical.FindMember("messageType");
  const std::string_view type = mt != canonical.MemberEnd() && mt->value.IsString()
                                    ? std::string_view(mt->value.GetString())
                                    : std::string_view();
  const auto types = dialect.outbound_types();
  std::string out;
  schemas::report r;
  adapters::context ctx;
  ctx.partner_id = partner.id;
  ctx.partner_role = partner.role;
  ctx.reference = reference;
  const auto cid = canonical.FindMember("caseId");
  if (cid != canonical.MemberEnd() && cid->value.IsString()) ctx.case_id = cid->value.GetString();
  if (std::find(types.begin(), types.end(), type) == types.end()) {
    v.AddMember("unavailable", str(std::string(type) + " has no counterpart in this dialect"), a);
  } else if (!dialect.from_canonical(canonical, ctx, out, r)) {
    const std::string why = r.errors.empty() ? "translation failed"
                                             : r.errors[0].location + ": " + r.errors[0].message +
                                                   " [" + r.errors[0].rule + "]";
    v.AddMember("unavailable", str(why), a);
  } else if (dialect.encoding() == schemas::encoding::json) {
    rapidjson::Document doc;
    schemas::json_error err;
    if (schemas::parse_json(out, doc, {}, err))
      v.AddMember("body", rapidjson::Value(doc, a), a);
    else
      v.AddMember("body", str(out), a);
  } else {
    v.AddMember("body", str(out), a);
  }
  o.AddMember("inDialect", v, a);
}

}  // namespace

struct service::outcome {
  std::string route = "other";
  std::string partner;
  std::string message_id;
};

service::service(const config& cfg, std::shared_ptr<const schemas::schema_set> set, pii_key key,
                 const store_opener& open_store)
    : cfg_(cfg),
      set_(std::move(set)),
      adapters_(load_adapters(cfg_, set_)),
      key_(std::move(key)),
      logic_(make_case_logic({&cfg_, set_, &adapters_, &key_, scaled_clock(cfg_.clock_scale)})),
      store_(open_store(logic_)) {
  for (const auto& p : cfg_.partners) {
    if (!p.api_key_sha256.empty()) by_key_[p.api_key_sha256] = &p;
    if (!p.client_cert_sha256.empty()) by_cert_[p.client_cert_sha256] = &p;
  }
  for (const auto& f : embedded::gateway::files())
    if (f.path == "openapi.json") openapi_ = std::string(f.data);
  probe_ready(true);
  probe_ = std::jthread([this](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
      if (!stop.stop_requested()) probe_ready(false);
    }
  });
  delivery_ = std::make_unique<delivery_engine>(cfg_, *store_, adapters_, set_, key_);
  timers_ = std::jthread([this](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    const auto interval = std::chrono::milliseconds(std::max(10u, cfg_.timer_interval_ms));
    while (!stop.stop_requested()) {
      // Overdue timers (after a restart) fire at once, in batches.
      int fired = 0;
      do {
        fired = store_->fire_timers_sync(64);
        if (fired > 0) delivery_->poke();
      } while (fired >= 64 && !stop.stop_requested());
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, interval, [] { return false; });
    }
  });
}

service::~service() { stop_background(); }

void service::stop_background() {
  if (timers_.joinable()) {
    timers_.request_stop();
    timers_.join();
  }
  if (delivery_) delivery_->stop();
}

void service::probe_ready(bool first) {
  std::string problem;
  const bool ok = store_->check_ready(problem);
  const bool was = ready_.exchange(ok);
  // One line when readiness changes (and at start when not ready), with the cause.
  if (first ? !ok : ok != was) {
    const std::string line =
        ok ? "{\"time\":\"" + now_rfc3339() + "\",\"level\":\"info\",\"event\":\"ready\"}\n"
           : "{\"time\":\"" + now_rfc3339() +
                 "\",\"level\":\"error\",\"event\":\"not ready\",\"cause\":" +
                 json_escape(problem) + "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

const partner_config* service::authenticate(const http::request_header<>& req,
                                            const peer_info& peer) const {
  // A client certificate that a configured partner owns identifies that partner (mutual TLS).
  if (!peer.client_cert_sha256.empty())
    if (auto it = by_cert_.find(peer.client_cert_sha256); it != by_cert_.end()) return it->second;
  const auto auth = req[http::field::authorization];
  constexpr std::string_view bearer = "Bearer ";
  if (auth.size() <= bearer.size() || !iequals(auth.substr(0, bearer.size()), bearer))
    return nullptr;
  // Only the key's hash is configured; the key itself is never stored or logged.
  const auto it = by_key_.find(sha256_hex(auth.substr(bearer.size())));
  return it == by_key_.end() ? nullptr : it->second;
}

bool service::refuse_before_body(const http::request_header<>& header,
                                 const peer_info& peer) const {
  if (header.method() != http::verb::post) return false;
  const std::string_view target = header.target();
  if (target.substr(0, target.find('?')) != "/v1/messages") return false;
  return authenticate(header, peer) == nullptr;
}

asio::awaitable<std::optional<audit_record>> service::append_audit(audit_entry e) {
  const std::string kind = e.kind;  // for the failure's log line
  auto entry = std::make_shared<audit_entry>(std::move(e));
  std::function<void(std::function<void(std::optional<audit_record>)>)> submit =
      [this, entry](std::function<void(std::optional<audit_record>)> done) {
        store_->append_audit(std::move(*entry), std::move(done));
      };
  const auto t0 = std::chrono::steady_clock::now();
  auto rec =
      co_await await_storage<decltype(submit), std::optional<audit_record>>(std::move(submit));
  metrics_.observe_audit_append(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!rec) {
    const std::string line =
        "{\"level\":\"error\",\"event\":\"audit append failed\",\"kind\":" + json_escape(kind) +
        "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  co_return rec;
}

asio::awaitable<void> service::audit_transport(int status, std::string detail, peer_info peer) {
  try {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    auto str = [&](std::string_view s) {
      return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
    };
    d.AddMember("route", "transport", a);
    d.AddMember("peer", str(peer.address), a);
    d.AddMember("status", status, a);
    d.AddMember("error", str(printable(detail)), a);
    audit_entry e;
    e.kind = "rejected";
    e.data_json = schemas::to_json_string(d);
    co_await append_audit(std::move(e));
  } catch (const std::exception&) {
    // Out of memory or a closed storage: the answer still goes out.
  }
}

response service::transport_error(int status, std::string_view detail, unsigned version,
                                  bool keep_alive) {
  problem p;
  switch (status) {
    case 413:
      p = simple_problem(413, "too-large", "The request body is too large", std::string(detail));
      break;
    case 500:
      p = simple_problem(500, "internal", "Internal error",
                         "the request could not be completed; nothing was acknowledged");
      break;
    case 431:
      p = simple_problem(431, "headers-too-large", "The request headers are too large",
                         std::string(detail));
      break;
    default:
      p = simple_problem(400, "bad-request", "The HTTP request could not be read",
                         std::string(detail));
  }
  auto res = problem_response(p, version);
  res.keep_alive(keep_alive);
  metrics_.count_request("transport", status);
  // Requests that never reached a route still get their log line (no partner: not read yet).
  const std::string line = "{\"time\":\"" + now_rfc3339() +
                           "\",\"route\":\"transport\",\"status\":" + std::to_string(status) +
                           ",\"error\":" + json_escape(printable(detail)) + "}\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  return res;
}

asio::awaitable<response> service::handle(request req, const peer_info& peer) {
  const auto start = std::chrono::steady_clock::now();
  outcome out;
  response res;
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const auto method = req.method();
  auto not_allowed = [&](std::string_view allow) {
    auto r = problem_response(simple_problem(405, "method-not-allowed", "Method not allowed",
                                             std::string(req.method_string()) +
                                                 " is not "
                                                 "supported on " +
                                                 path),
                              req.version());
    r.set(http::field::allow, allow);
    return r;
  };

  if (path == "/v1/messages") {
    out.route = "/v1/messages";
    if (method == http::verb::post) {
      res = co_await post_message(req, peer, out);
    } else {
      res = not_allowed("POST");
    }
  } else if (method != http::verb::get && method != http::verb::head &&
             (path.starts_with("/v1/cases/") || path == "/v1/schemas" ||
              path.starts_with("/v1/schemas/") || path == "/healthz" || path == "/readyz" ||
              path == "/metrics" || path == "/openapi.json")) {
    // Everything but /v1/messages is read-only.
    out.route = "read-only";
    res = not_allowed("GET, HEAD");
  } else if (path.starts_with("/v1/cases/")) {
    out.route = "/v1/cases/{caseId}";
    res = co_await get_case(req, peer, std::string_view(path).substr(10), out);
  } else if (path == "/v1/schemas" || path.starts_with("/v1/schemas/")) {
    out.route = path == "/v1/schemas" ? "/v1/schemas" : "/v1/schemas/{file}";
    res = get_schema(req, path == "/v1/schemas" ? "" : std::string_view(path).substr(12));
  } else if (path == "/healthz") {
    out.route = path;
    res =
        make_response(http::status::ok, req.version(), "{\"status\":\"ok\"}\n", "application/json");
  } else if (path == "/readyz") {
    out.route = path;
    const bool ok = ready_.load();
    res = make_response(ok ? http::status::ok : http::status::service_unavailable, req.version(),
                        ok ? "{\"status\":\"ready\"}\n" : "{\"status\":\"storage unavailable\"}\n",
                        "application/json");
  } else if (path == "/metrics") {
    out.route = path;
    metrics_.set_storage(store_->stats());
    res = make_response(http::status::ok, req.version(), metrics_.render(), metrics::content_type);
  } else if (path == "/openapi.json") {
    out.route = path;
    res = make_response(http::status::ok, req.version(), openapi_, "application/json");
  } else {
    res = problem_response(
        simple_problem(404, "not-found", "No such resource", "nothing is served at " + path),
        req.version());
  }
  if (method == http::verb::head) {
    // The GET answer's head: same Content-Length, no body (RFC 9110 9.3.2).
    const auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  res.keep_alive(req.keep_alive());
  log(req, res, out, start);
  co_return res;
}

// Reads the query of `target` into `values` (one per name in `known`, nullopt when absent). Returns
// "" or why the query is refused: not origin-form, an unknown name, a repeated or overlong value.
template <std::size_t N>
std::string read_query(std::string_view target, const std::array<std::string_view, N>& known,
                       std::array<std::optional<std::string>, N>& values) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return "the request target is not a well-formed origin-form URL";
  std::array<bool, N> seen{};
  for (const auto p : parsed->params()) {
    const auto it = std::find(known.begin(), known.end(), std::string_view(p.key));
    if (it == known.end()) {
      std::string names;
      for (const auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
      return "unknown query parameter '" + printable(p.key).substr(0, 64) + "' (known: " + names +
             ")";
    }
    const auto i = static_cast<std::size_t>(it - known.begin());
    if (seen[i] || p.value.size() > 256)
      return "query parameter '" + std::string(p.key) + "' is repeated or too long";
    seen[i] = true;
    values[i] = std::string(p.value);
  }
  return {};
}

// The adapter context of one request: `operation`, `reference` and `caseId` from the query,
// the sender's idempotency key from Idempotency-Key (or PayPal-Request-Id), the partner from the
// authentication. Owns the strings the context views.
struct translation_context {
  translation_context(const request& req, const partner_config& partner) {
    std::array<std::optional<std::string>, 3> values;
    error = read_query(req.target(),
                       std::array<std::string_view, 3>{"operation", "reference", "caseId"}, values);
    if (!error.empty()) return;
    operation = values[0].value_or("");
    reference = values[1].value_or("");
    case_id = values[2].value_or("");
    auto key = req["Idempotency-Key"];
    if (key.empty()) key = req["PayPal-Request-Id"];
    request_id = std::string(key.substr(0, 256));
    received_at = now_rfc3339();
    ctx.partner_id = partner.id;
    ctx.partner_role = partner.role;
    ctx.operation = operation;
    ctx.reference = reference;
    ctx.case_id = case_id;
    ctx.request_id = request_id;
    ctx.received_at = received_at;
  }
  translation_context(const translation_context&) = delete;
  translation_context& operator=(const translation_context&) = delete;

  std::string operation, reference, case_id, request_id, received_at, error;
  adapters::context ctx;
};

asio::awaitable<response> service::post_message(const request& req, const peer_info& peer,
                                                outcome& out) {
  const unsigned v = req.version();
  const partner_config* partner = authenticate(req, peer);
  // Every exchange is audited, rejected ones too: the body sealed (it may hold personal data in
  // a shape we could not read), its hash and size in clear.
  std::string rejected_case_id;  // the caseId the message named, once it was read
  auto audit_rejected = [&](const problem& p) -> asio::awaitable<void> {
    rapidjson::Document d = request_summary(req, peer, sha256_hex(req.body()));
    auto& a = d.GetAllocator();
    auto str = [&](std::string_view s) {
      return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
    };
    // Bounded: an unauthenticated client gets its hash and size recorded, nothing more (it could
    // otherwise fill the append-only log); a partner's rejected body is kept up to 4 KiB, sealed.
    constexpr std::size_t excerpt = 4096;
    if (partner != nullptr) {
      const std::string_view body(req.body());
      d.AddMember("bodySealed", str(key_.seal(body.substr(0, excerpt))), a);
      if (body.size() > excerpt) d.AddMember("bodyTruncated", true, a);
    }
    d.AddMember("status", p.status, a);
    d.AddMember("problem", str(p.type), a);
    audit_entry e;
    e.kind = "rejected";
    e.partner = partner ? partner->id : "";
    // Known once the message was read: an auditor can find a refused message by its ids.
    e.message_id = out.message_id;
    e.case_id = rejected_case_id;
    e.data_json = schemas::to_json_string(d);
    // Named locals, never temporaries inside a co_await expression: GCC 12 relocates such
    // temporaries in coroutine frames bitwise (seen: a std::string freed at a frame address).
    co_await append_audit(std::move(e));
  };
  auto reject = [&](problem p) -> asio::awaitable<response> {
    co_await audit_rejected(p);
    auto r = problem_response(p, v);
    if (p.status == 401) r.set(http::field::www_authenticate, "Bearer realm=\"odrgw\"");
    co_return r;
  };

  if (partner == nullptr)
    co_return co_await reject(simple_problem(
        401, "unauthenticated", "Authentication required",
        "send Authorization: Bearer <api key>, or a client certificate a partner owns"));
  out.partner = partner->id;
  if (partner->role == "auditor" || partner->role == "admin")
    co_return co_await reject(
        simple_problem(403, "forbidden", "Not allowed for this partner",
                       "partners with role " + partner->role + " do not send dispute messages"));

  const auto mt = media_type(req[http::field::content_type]);
  const bool json = iequals(mt, "application/json");
  const bool xml = iequals(mt, "application/xml") || iequals(mt, "text/xml");
  if (!json && !xml)
    co_return co_await reject(
        simple_problem(415, "unsupported-media-type", "Unsupported media type",
                       "send application/json or application/xml, not '" + std::string(mt) + "'"));
  // Canonical partners may use either encoding; other dialects have exactly one.
  const bool canonical =
      partner->dialect == "canonical-json" || partner->dialect == "canonical-xml";
  const adapters::adapter* adapter = canonical
                                         ? adapters_.find(json ? "canonical-json" : "canonical-xml")
                                         : adapters_.find(partner->dialect);
  if (adapter == nullptr)
    co_return co_await reject(simple_problem(500, "configuration", "Partner misconfigured",
                                             "unknown dialect " + partner->dialect));
  if ((adapter->encoding() == schemas::encoding::json) != json)
    co_return co_await reject(
        simple_problem(415, "unsupported-media-type", "Unsupported media type",
                       "dialect " + std::string(adapter->id()) + " is " +
                           std::string(schemas::to_string(adapter->encoding()))));

  // What the dialect's bytes may not say (PayPal's request bodies name neither the dispute nor
  // the operation): query parameters and the idempotency header, for the adapter to use.
  const translation_context tc(req, *partner);
  if (!tc.error.empty())
    co_return co_await reject(simple_problem(400, "bad-request", "Bad query", tc.error));
  rapidjson::Document msg;
  schemas::report r;
  if (!adapter->to_canonical(req.body(), tc.ctx, msg, r)) {
    for (const auto& e : r.errors) metrics_.count_validation_failure(r.message_type, e.rule);
    co_return co_await reject(problem_from_report(r));
  }
  out.message_id = member(msg, "messageId");
  rejected_case_id = member(msg, "caseId");
  const std::string type(member(msg, "messageType"));

  // Who may say what: a partner speaks as itself, and a merchant's or platform's system also for
  // the consumers who use it (consumers have no system of their own); gateway events come from
  // the gateway only.
  const auto& sender = child(msg, "sender");
  const bool as_itself = member(sender, "partyId") == partner->id;
  const bool names_other_partner =
      std::any_of(cfg_.partners.begin(), cfg_.partners.end(), [&](const partner_config& p) {
        return p.id != partner->id && member(sender, "partyId") == p.id;
      });
  const std::string_view sender_role = member(sender, "role");
  const bool for_consumer = sender_role == "consumer" && !names_other_partner &&
                            (partner->role == "merchant" || partner->role == "platform");
  // An external provider relays what the parties do on its own platform (ODR-SI 6.2.4: they
  // negotiate, respond and ask for the next tier there), on cases routed to it (checked below).
  const bool relayed_party = partner->role == "odr-provider" && !as_itself &&
                             !names_other_partner &&
                             (sender_role == "consumer" || sender_role == "merchant");
  // Speaking as itself, a partner speaks in its configured role (a provider also as the neutral
  // it appointed): the role decides which forum a message may act for, so a merchant's key must
  // not accept, decide or close a case as the platform.
  if (as_itself && sender_role != partner->role &&
      !(partner->role == "odr-provider" && sender_role == "neutral"))
    co_return co_await reject(simple_problem(403, "forbidden", "Sender mismatch",
                                             "sender.role must be your configured role '" +
                                                 partner->role + "', not '" +
                                                 std::string(sender_role) + "'"));
  if (!as_itself && !for_consumer && !relayed_party)
    co_return co_await reject(simple_problem(
        403, "forbidden", "Sender mismatch",
        "sender.partyId must be your partner id '" + partner->id +
            "' (merchant and platform systems may also send for consumers, providers for the "
            "parties of cases routed to them)"));
  if (type == "stage.changed" || type == "deadline.notice")
    co_return co_await reject(simple_problem(403, "forbidden", "Not allowed for this partner",
                                             type + " is emitted by the gateway only"));
  const std::string case_id(member(msg, "caseId"));
  if (!case_id.empty()) {
    auto view = co_await fetch_case(case_id, true);
    if (!view)
      co_return co_await reject(
          simple_problem(404, "unknown-case", "No such case", "case " + case_id + " is unknown"));
    if (std::find(view->parties.begin(), view->parties.end(), partner->id) == view->parties.end())
      co_return co_await reject(simple_problem(403, "forbidden", "Not a party to this case",
                                               partner->id + " is not a party to " + case_id));
    if (relayed_party && view->provider != partner->id)
      co_return co_await reject(simple_problem(
          403, "forbidden", "Sender mismatch",
          partner->id + " relays parties' messages only on cases routed to it; " + case_id +
              (view->provider.empty() ? " has no provider" : " is with " + view->provider)));
  } else if (type != "dispute.application") {
    co_return co_await reject(
        simple_problem(422, "schema-invalid", "caseId required", type + " must name its caseId"));
  }
  if (relayed_party && case_id.empty())
    co_return co_await reject(simple_problem(
        403, "forbidden", "Sender mismatch",
        "a provider files new cases as itself; it relays parties' messages on its cases only"));

  inbound_message in;
  in.sender_party = partner->id;
  in.message_id = out.message_id;
  in.message_type = type;
  in.case_id = case_id;
  in.proceeding_id = member(msg, "proceedingId");
  in.body_sha256 = sha256_hex(req.body());
  // The case logic judges the message in clear; what is stored has its personal data sealed.
  {
    auto plain = std::make_shared<rapidjson::Document>();
    plain->CopyFrom(msg, plain->GetAllocator());
    in.plain = std::move(plain);
  }
  protect(*set_->model().find(type)->root, msg, msg.GetAllocator(), key_);
  // Serialised once, here, with gaps for the ids storage assigns: storage neither re-serialises
  // nor re-parses it (it was ~20% of the CPU per message).
  in.canonical.emplace();
  if (!split_canonical(msg, *in.canonical)) {
    in.canonical.reset();
    in.canonical_json = schemas::to_json_string(msg);
  }
  {
    rapidjson::Document d = request_summary(req, peer, in.body_sha256);
    auto& a = d.GetAllocator();
    const auto dialect = adapter->id();
    d.AddMember(
        "dialect",
        rapidjson::Value(dialect.data(), static_cast<rapidjson::SizeType>(dialect.size()), a), a);
    d.AddMember("verdict", "accepted", a);
    in.audit_json = schemas::to_json_string(d);
  }
  auto job = std::make_shared<inbound_message>(std::move(in));
  std::function<void(std::function<void(store_result)>)> submit =
      [this, job](std::function<void(store_result)> done) {
        store_->store_message(std::move(*job), std::move(done));
      };
  const auto t0 = std::chrono::steady_clock::now();
  store_result sr = co_await await_storage<decltype(submit), store_result>(std::move(submit));
  metrics_.observe_audit_append(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  switch (sr.status) {
    case store_status::stored:
    case store_status::replay: {
      rapidjson::Document d(rapidjson::kObjectType);
      auto& a = d.GetAllocator();
      auto str = [&](const std::string& s) {
        return rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
      };
      d.AddMember("receiptId", str(sr.rec.receipt_id), a);
      d.AddMember("messageId", str(sr.rec.message_id), a);
      d.AddMember("caseId", str(sr.rec.case_id), a);
      d.AddMember("proceedingId", str(sr.rec.proceeding_id), a);
      d.AddMember("receivedAt", str(sr.rec.received_at), a);
      d.AddMember("auditSeq", static_cast<int64_t>(sr.rec.audit_seq), a);
      d.AddMember("auditHash", str(sr.rec.audit_hash), a);
      if (sr.status == store_status::stored && sr.queued > 0) delivery_->poke();
      co_return make_response(
          sr.status == store_status::stored ? http::status::accepted : http::status::ok, v,
          schemas::to_json_string(d) + "\n", "application/json");
    }
    case store_status::conflict:
      co_return co_await reject(simple_problem(409, "conflict", "messageId already used",
                                               "messageId " + out.message_id +
                                                   " was already received from " + partner->id +
                                                   " with a different body"));
    case store_status::unknown_case:
      co_return co_await reject(
          simple_problem(404, "unknown-case", "No such case", "case " + case_id + " is unknown"));
    case store_status::refused: {
      problem p =
          simple_problem(sr.refused.status, sr.refused.type, sr.refused.title, sr.refused.detail);
      p.state = sr.refused.state;
      p.allowed = sr.refused.allowed_now;
      co_return co_await reject(std::move(p));
    }
    case store_status::failed:
      break;
  }
  // Nothing was acknowledged: the sender may retry with the same messageId.
  co_return problem_response(simple_problem(503, "storage", "Not stored",
                                            "the message could not be stored durably; retry "
                                            "with the same messageId"),
                             v);
}

asio::awaitable<response> service::get_case(const request& req, const peer_info& peer,
                                            std::string_view case_id, outcome& out) {
  // Paging: ?offset=N (messages to skip, default 0) &limit=M (1..1000, default 100).
  std::size_t offset = 0, limit = 100;
  std::array<std::optional<std::string>, 2> values;
  std::string page_error =
      read_query(req.target(), std::array<std::string_view, 2>{"offset", "limit"}, values);
  for (std::size_t i = 0; i < 2 && page_error.empty(); ++i) {
    if (!values[i]) continue;
    std::size_t n = 0;
    const char* end = values[i]->data() + values[i]->size();
    const auto [ptr, ec] = std::from_chars(values[i]->data(), end, n);
    if (values[i]->empty() || ec != std::errc() || ptr != end || (i == 1 && (n < 1 || n > 1000)) ||
        (i == 0 && n > 100000000))
      page_error = i == 0 ? "offset must be a whole number of messages to skip"
                          : "limit must be a whole number from 1 to 1000";
    else
      (i == 0 ? offset : limit) = n;
  }
  const partner_config* partner = authenticate(req, peer);
  std::optional<case_view> view, first;
  response res;
  if (!page_error.empty() && partner != nullptr) {  // unauthenticated: 401 below
    out.partner = partner->id;
    res = problem_response(simple_problem(400, "bad-request", "Bad query", page_error),
                           req.version());
  } else {
    if (partner != nullptr) view = co_await fetch_case(std::string(case_id), false, offset, limit);
    // A dialect partner's reference for the case comes from the case's first messages.
    if (view && offset > 0 && partner->dialect != "canonical-json" &&
        partner->dialect != "canonical-xml")
      first = co_await fetch_case(std::string(case_id), false, 0, 50);
    res = read_case(req, partner, case_id, view, first ? &*first : nullptr, offset, limit, out);
  }
  // Who read which case is part of the record (ODR-SI 5.5: personal data is shown to parties).
  if (!out.partner.empty()) {
    rapidjson::Document d = request_summary(req, peer, sha256_hex(req.body()));
    d.AddMember("status", res.result_int(), d.GetAllocator());
    audit_entry e;
    e.kind = "case-read";
    e.partner = out.partner;
    if (res.result() == http::status::ok) e.case_id = std::string(case_id);
    e.data_json = schemas::to_json_string(d);
    auto rec = co_await append_audit(std::move(e));
    if (!rec)
      co_return problem_response(simple_problem(503, "storage-unavailable", "Storage unavailable",
                                                "the read could not be audited; try again"),
                                 req.version());
  }
  co_return res;
}

asio::awaitable<std::optional<case_view>> service::fetch_case(std::string case_id, bool header,
                                                              std::size_t offset,
                                                              std::size_t limit) {
  std::function<void(std::function<void(std::optional<case_view>)>)> submit =
      [this, case_id = std::move(case_id), header, offset,
       limit](std::function<void(std::optional<case_view>)> done) {
        asio::post(readers_, [this, case_id, header, offset, limit, done = std::move(done)] {
          // Reads answer nullopt on a database error (ready() then says why).
          done(header ? store_->get_case_header(case_id)
                      : store_->get_case_page(case_id, offset, limit));
        });
      };
  auto view = co_await await_storage<decltype(submit), std::optional<case_view>>(std::move(submit));
  co_return view;
}

response service::read_case(const request& req, const partner_config* partner,
                            std::string_view case_id, const std::optional<case_view>& view,
                            const case_view* first, std::size_t offset, std::size_t limit,
                            outcome& out) {
  const unsigned v = req.version();
  if (partner == nullptr) {
    auto r = problem_response(simple_problem(401, "unauthenticated", "Authentication required",
                                             "send Authorization: Bearer <api key>"),
                              v);
    r.set(http::field::www_authenticate, "Bearer realm=\"odrgw\"");
    return r;
  }
  out.partner = partner->id;
  const bool oversight = partner->role == "auditor" || partner->role == "admin";
  const bool party = view && std::find(view->parties.begin(), view->parties.end(), partner->id) !=
                                 view->parties.end();
  // A party whose dialect is not canonical also gets each message in its own shape, where its
  // dialect can carry that type: results go back to it as it speaks (until deliveries push them).
  const adapters::adapter* dialect = nullptr;
  if (party && partner->dialect != "canonical-json" && partner->dialect != "canonical-xml")
    dialect = adapters_.find(partner->dialect);
  // Its own reference for the case (PayPal: the dispute id): the senderCaseRef of the first
  // message it sent, else of the case's first message.
  std::string reference;
  if (dialect != nullptr) {
    for (int pass = 0; pass < 2 && reference.empty(); ++pass)
      for (const auto& m : (first != nullptr ? first : &*view)->messages) {
        if (pass == 0 && m.sender_party != partner->id) continue;
        rapidjson::Document d;
        schemas::json_error err;
        if (!schemas::parse_json(m.canonical_json, d, {}, err)) continue;
        reference = std::string(member(d, "senderCaseRef"));
        break;
      }
  }
  // Unknown and not-yours look the same, so case ids cannot be probed.
  if (!view || (!party && !oversight))
    return problem_response(simple_problem(404, "unknown-case", "No such case",
                                           "no case " + std::string(case_id) + " for you"),
                            v);
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto str = [&](const std::string& s) {
    return rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
  };
  d.AddMember("caseId", str(view->case_id), a);
  d.AddMember("state", str(view->state), a);
  d.AddMember("createdAt", str(view->created_at), a);
  if (!view->status_json.empty()) {
    // Where the case stands on its route, and its running timers.
    try {
      const auto st = routing::case_status::from_json(view->status_json);
      d.AddMember("tier", str(st.tier), a);
      d.AddMember("proceedingId", str(st.proceeding_id()), a);
      if (!view->originator.empty()) d.AddMember("originator", str(view->originator), a);
      if (!view->provider.empty()) d.AddMember("provider", str(view->provider), a);
      rapidjson::Value timers(rapidjson::kArrayType);
      for (const auto& t : st.deadlines) {
        rapidjson::Value o(rapidjson::kObjectType);
        o.AddMember("deadlineId", str(t.id), a);
        o.AddMember("kind", str(t.kind), a);
        o.AddMember("dueAt", str(t.due_at), a);
        o.AddMember("source", str(t.source), a);
        timers.PushBack(o, a);
      }
      d.AddMember("deadlines", timers, a);
    } catch (const std::exception&) {
      // An unreadable status shows as the state alone.
    }
  }
  rapidjson::Value parties(rapidjson::kArrayType);
  for (const auto& p : view->parties) parties.PushBack(str(p), a);
  d.AddMember("parties", parties, a);
  rapidjson::Value messages(rapidjson::kArrayType);
  for (const auto& m : view->messages) {
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("messageId", str(m.message_id), a);
    o.AddMember("messageType", str(m.message_type), a);
    o.AddMember("sender", str(m.sender_party), a);
    o.AddMember("receivedAt", str(m.received_at), a);
    rapidjson::Document body;
    schemas::json_error err;
    if (schemas::parse_json(m.canonical_json, body, {}, err)) {
      // Personal data is shown to the case's parties only (ODR-SI 5.5); oversight sees it redacted.
      reveal(body, body.GetAllocator(), party ? &key_ : nullptr);
      if (dialect != nullptr) add_in_dialect(o, body, *dialect, *partner, reference, a);
      o.AddMember("message", rapidjson::Value(body, a), a);
    }
    messages.PushBack(o, a);
  }
  const std::size_t count = messages.Size();
  d.AddMember("messages", messages, a);
  // Where this page lies among the case's messages, and the next page's target if any.
  rapidjson::Value page(rapidjson::kObjectType);
  page.AddMember("offset", static_cast<std::uint64_t>(offset), a);
  page.AddMember("limit", static_cast<std::uint64_t>(limit), a);
  page.AddMember("count", static_cast<std::uint64_t>(count), a);
  if (view->more)
    page.AddMember("next",
                   str("/v1/cases/" + view->case_id + "?offset=" + std::to_string(offset + count) +
                       "&limit=" + std::to_string(limit)),
                   a);
  d.AddMember("page", page, a);
  return make_response(http::status::ok, v, schemas::to_json_string(d) + "\n", "application/json");
}

response service::get_schema(const request& req, std::string_view name) {
  const unsigned v = req.version();
  if (name.empty()) {
    rapidjson::Document d(rapidjson::kArrayType);
    auto& a = d.GetAllocator();
    for (const auto& m : set_->model().messages()) {
      rapidjson::Value o(rapidjson::kObjectType);
      auto str = [&](const std::string& s) { return rapidjson::Value(s.c_str(), a); };
      o.AddMember("messageType", str(m.type), a);
      o.AddMember("clause", str(m.clause), a);
      o.AddMember("json", str("/v1/schemas/" + m.type + ".json"), a);
      o.AddMember("xsd", str("/v1/schemas/" + m.type + ".xsd"), a);
      d.PushBack(o, a);
    }
    return make_response(http::status::ok, v, schemas::to_json_string(d) + "\n",
                         "application/json");
  }
  const std::string n(name);
  if (n.ends_with(".json"))
    if (const auto* t = set_->json_schema_text(n.substr(0, n.size() - 5)))
      return make_response(http::status::ok, v, *t, "application/schema+json");
  if (n.ends_with(".xsd"))
    if (const auto* t = set_->xsd_text(n.substr(0, n.size() - 4)))
      return make_response(http::status::ok, v, *t, "application/xml");
  return problem_response(
      simple_problem(404, "not-found", "No such schema", "GET /v1/schemas lists the message types"),
      v);
}

void service::log(const request& req, const response& res, const outcome& out,
                  std::chrono::steady_clock::time_point start) const {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int status = static_cast<int>(res.result_int());
  metrics_.count_request(out.route, status);
  metrics_.observe_request(out.route, seconds);
  // One JSON line per request; never headers, bodies or keys.
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f", seconds * 1000);
  std::string line = "{\"time\":\"" + now_rfc3339() + "\",\"partner\":" + json_escape(out.partner) +
                     ",\"method\":" + json_escape(req.method_string()) +
                     ",\"route\":" + json_escape(out.route) +
                     ",\"status\":" + std::to_string(status) + ",\"latencyMs\":" + ms +
                     ",\"messageId\":" + json_escape(out.message_id) + "}\n";
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace odrgw::gateway
