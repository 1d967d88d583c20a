// odrgw: the ODR interchange gateway's command line.
#include <cstdlib>
#include <iostream>

#include "cli_common.hpp"

int main(int argc, char** argv) {
  using namespace odrgw::tools;
  CLI::App app(
      "odrgw " ODRGW_VERSION
      " - the ODR interchange gateway.\n"
      "Receives, validates, translates and audits cross-border e-commerce dispute messages in\n"
      "the ODR Interchange v1 format (JSON and XML). Run `odrgw COMMAND --help`.",
      "odrgw");
  app.set_version_flag("--version", ODRGW_VERSION);
  app.require_subcommand(1);
  global_options g;
  if (const char* env = std::getenv("ODRGW_SCHEMA_DIR")) g.schema_dir = env;
  app.add_option("--schema-dir", g.schema_dir,
                 "Use DIR/odr-interchange-v1.json instead of the embedded v1 schemas "
                 "(env ODRGW_SCHEMA_DIR)");
  std::vector<command> commands = {add_serve(app, g),         add_validate(app, g),
                                   add_translate(app, g),     add_schemas(app, g),
                                   add_adapters(app, g),      add_audit(app, g),
                                   add_mock_provider(app, g), add_callback(app, g),
                                   add_conformance(app, g),   add_outbox(app, g)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;  // one exit status for every usage error, as documented
  }
  for (const auto& c : commands)
    if (c.app->parsed()) {
      try {
        return c.run();
      } catch (const std::exception& e) {
        std::cerr << "odrgw: " << e.what() << "\n";
        return exit_usage;
      }
    }
  return exit_usage;
}
