// odrgw serve / odrgw audit: the gateway and the auditor's tools.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <odrgw/adapters/adapter.hpp>
#include <odrgw/gateway/config.hpp>
#include <odrgw/gateway/server.hpp>
#include <odrgw/gateway/storage.hpp>

#include "cli_common.hpp"

namespace odrgw::tools {
namespace {

struct serve_args {
  std::string config_file;
  std::string listen;       // overrides the config's listen
  std::string adapter_dir;  // overrides adapters.dir
};

int run_serve(const serve_args& args, const global_options& g) {
  schemas::xml_init();
  gateway::config cfg;
  try {
    if (!args.config_file.empty()) {
      cfg = gateway::load_config(args.config_file);
    } else {
      cfg.source = "(defaults)";
    }
    if (!args.adapter_dir.empty()) cfg.adapter_dir = args.adapter_dir;
    if (!args.listen.empty()) {
      const auto l = gateway::parse_listen(args.listen, "--listen");
      cfg.listen_host = l.host;
      cfg.listen_port = l.port;
    }
  } catch (const std::exception& e) {
    std::cerr << "odrgw serve: configuration: " << e.what() << "\n";
    return exit_usage;
  }
  for (const auto& w : cfg.warnings) std::cerr << "odrgw serve: warning: " << w << "\n";
  try {
    auto set = load_schema_set(g);
    gateway::load_adapters(cfg, set);  // reports a bad dialect before anything is opened
    gateway::server srv(cfg, set);
    const std::string where = srv.bind();
    if (cfg.partners.empty())
      std::cerr << "odrgw serve: no partners configured, so every message will be refused (401).\n"
                   "  Add partners in a config file (see gateway/odrgw.sample.yaml) and run\n"
                   "  odrgw serve --config FILE.\n";
    // Tests and scripts wait for exactly this line.
    std::cout << "listening on " << where << std::endl;
    srv.run();
    std::cerr << "odrgw serve: stopped\n";
    return exit_ok;
  } catch (const std::exception& e) {
    std::cerr << "odrgw serve: " << e.what() << "\n";
    return exit_usage;
  }
}

}  // namespace

command add_serve(CLI::App& root, const global_options& g) {
  auto args = std::make_shared<serve_args>();
  CLI::App* app = root.add_subcommand(
      "serve",
      "Run the gateway: POST /v1/messages, GET /v1/cases/{id}, /v1/schemas, /healthz, /readyz,\n"
      "/metrics, /openapi.json. Without --config it listens on 127.0.0.1:8080 with SQLite at\n"
      "./var/odrgw.db and no partners. Prints `listening on HOST:PORT` once bound; SIGINT or\n"
      "SIGTERM stop it gracefully (in-flight requests finish, storage is drained).");
  app->add_option("-c,--config", args->config_file,
                  "YAML configuration (gateway/odrgw.sample.yaml)");
  app->add_option("--listen", args->listen, "HOST:PORT, overriding the config (port 0: any free)");
  app->add_option(
      "--adapter-dir", args->adapter_dir,
      "A directory of mapping-file dialects (docs/adapters/mapping.md), overriding the\n"
      "config's adapters.dir");
  return {app, [args, &g] { return run_serve(*args, g); }};
}

command add_audit(CLI::App& root, const global_options&) {
  struct audit_args {
    std::string db;
    std::string case_id;
    std::string since;
    std::string format = "jsonl";
    std::string pii_key;
  };
  auto args = std::make_shared<audit_args>();
  CLI::App* app = root.add_subcommand("audit", "Verify or export the tamper-evident audit log");
  app->require_subcommand(1);
  CLI::App* verify = app->add_subcommand(
      "verify",
      "Recompute the hash chain. Exit 0 with a summary when intact; exit 1 naming the first bad\n"
      "sequence number when any record was altered, deleted or reordered; 2 on usage errors.");
  verify->add_option("--db", args->db, "The gateway's SQLite database")->required();
  CLI::App* exp = app->add_subcommand(
      "export",
      "Write audit records as JSON lines; personal data shows as [redacted] without the "
      "key");
  exp->add_option("--db", args->db, "The gateway's SQLite database")->required();
  exp->add_option("--case", args->case_id, "Only records of this case");
  exp->add_option("--since", args->since, "Only records at or after this RFC 3339 time");
  exp->add_option("--format", args->format, "jsonl (the only format)")
      ->check(CLI::IsMember({"jsonl"}));
  exp->add_option("--pii-key", args->pii_key, "Decrypt personal data with this key file");
  auto run = [args, verify]() -> int {
    try {
      if (verify->parsed()) {
        const auto r = gateway::verify_audit(args->db);
        if (r.intact) {
          std::cout << "audit log intact: " << r.records << " records\n";
          return exit_ok;
        }
        std::cout << "audit log NOT intact: first bad record seq " << r.first_bad_seq << ": "
                  << r.problem << "\n";
        return exit_invalid;
      }
      gateway::export_audit(
          args->db, {args->case_id, args->since},
          [](const std::string& line) { std::cout << line << "\n"; }, args->pii_key);
      return exit_ok;
    } catch (const std::exception& e) {
      std::cerr << "odrgw audit: " << e.what() << "\n";
      return exit_usage;
    }
  };
  return {app, run};
}

command add_outbox(CLI::App& root, const global_options&) {
  struct outbox_args {
    std::string db;
    std::string status, case_id, recipient;
    std::size_t limit = 100;
    bool json = false;
    std::int64_t id = 0;
    std::string by;
  };
  auto args = std::make_shared<outbox_args>();
  CLI::App* app = root.add_subcommand(
      "outbox",
      "Inspect the deliveries the gateway owes partners, and put dead ones back in the queue.\n"
      "Works on the database of a running gateway too (SQLite WAL); docs/operations.md.");
  app->require_subcommand(1);
  CLI::App* list = app->add_subcommand("list", "One line per delivery, oldest first");
  list->add_option("--db", args->db, "The gateway's SQLite database")->required();
  list->add_option("--status", args->status, "pending, delivered or dead")
      ->check(CLI::IsMember({"pending", "delivered", "dead"}));
  list->add_option("--case", args->case_id, "Only this case's deliveries");
  list->add_option("--recipient", args->recipient, "Only deliveries to this partner");
  list->add_option("--limit", args->limit, "At most this many (default 100)");
  list->add_flag("--json", args->json, "JSON lines instead of a table");
  CLI::App* show = app->add_subcommand("show", "One delivery in full, with its message");
  show->add_option("--db", args->db, "The gateway's SQLite database")->required();
  show->add_option("id", args->id, "The delivery's id (from list)")->required();
  CLI::App* retry = app->add_subcommand(
      "retry", "Put a dead delivery back in the queue, due now, its attempts reset (audited)");
  retry->add_option("--db", args->db, "The gateway's SQLite database")->required();
  retry->add_option("id", args->id, "The delivery's id (from list --status dead)")->required();
  retry->add_option("--by", args->by, "Who asks (recorded in the audit log; default $USER)");

  auto to_json = [](const gateway::outbox_item& it, bool with_message) {
    rapidjson::Document d(rapidjson::kObjectType);
    auto& a = d.GetAllocator();
    auto str = [&](const std::string& s) {
      return rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
    };
    d.AddMember("id", static_cast<std::int64_t>(it.id), a);
    d.AddMember("status", str(it.status), a);
    d.AddMember("recipient", str(it.recipient), a);
    d.AddMember("caseId", str(it.case_id), a);
    d.AddMember("messageId", str(it.message_id), a);
    d.AddMember("messageType", str(it.message_type), a);
    d.AddMember("sender", str(it.sender_party), a);
    d.AddMember("attempts", it.attempts, a);
    d.AddMember("createdAt", str(it.created_at), a);
    d.AddMember("nextAttemptAt", str(it.next_attempt_at), a);
    d.AddMember("lastStatus", it.last_status, a);
    d.AddMember("lastError", str(it.last_error), a);
    d.AddMember("doneAt", str(it.done_at), a);
    if (with_message) {
      // As stored: personal data sealed (the gateway opens it only for the recipient).
      rapidjson::Document m;
      schemas::json_error err;
      if (schemas::parse_json(it.canonical_json, m, schemas::json_limits{}, err))
        d.AddMember("message", rapidjson::Value(m, a), a);
    }
    return schemas::to_json_string(d);
  };
  auto run = [args, list, show, retry, to_json]() -> int {
    try {
      if (!std::filesystem::exists(args->db)) {
        std::cerr << "odrgw outbox: no database at " << args->db << "\n";
        return exit_usage;
      }
      auto st = gateway::open_sqlite({args->db});
      if (list->parsed()) {
        const auto items =
            st->list_outbox({args->status, args->case_id, args->recipient, args->limit});
        if (args->json) {
          for (const auto& it : items) std::cout << to_json(it, false) << "\n";
        } else {
          std::cout << "ID      STATUS     ATTEMPTS  RECIPIENT             CASE              "
                       "TYPE                         LAST\n";
          for (const auto& it : items) {
            char line[512];
            std::snprintf(line, sizeof line, "%-7lld %-10s %-9d %-21s %-17s %-28s %s",
                          static_cast<long long>(it.id), it.status.c_str(), it.attempts,
                          it.recipient.c_str(), it.case_id.c_str(), it.message_type.c_str(),
                          it.last_error.empty()
                              ? (it.last_status ? std::to_string(it.last_status).c_str() : "-")
                              : it.last_error.c_str());
            std::cout << line << "\n";
          }
        }
        return exit_ok;
      }
      if (show->parsed()) {
        const auto it = st->get_outbox(args->id);
        if (!it) {
          std::cerr << "odrgw outbox: no delivery " << args->id << "\n";
          return exit_invalid;
        }
        std::cout << to_json(*it, true) << "\n";
        return exit_ok;
      }
      (void)retry;
      std::string by = args->by;
      if (by.empty()) {
        const char* user = std::getenv("USER");
        by = user != nullptr ? user : "odrgw outbox retry";
      }
      if (!st->retry_outbox(args->id, by)) {
        std::cerr << "odrgw outbox: delivery " << args->id << " is not dead (or does not exist)\n";
        return exit_invalid;
      }
      std::cout << "delivery " << args->id << " queued again\n";
      return exit_ok;
    } catch (const std::exception& e) {
      std::cerr << "odrgw outbox: " << e.what() << "\n";
      return exit_usage;
    }
  };
  return {app, run};
}

}  // namespace odrgw::tools
