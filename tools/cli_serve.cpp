// odrgw serve / odrgw audit: the gateway and the auditor's tools.
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

}  // namespace odrgw::tools
