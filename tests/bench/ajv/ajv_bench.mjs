// The reference to beat: ajv 8 (with ajv-formats) on the same published per-type JSON Schema and
// the same message bytes as odrgw_bench. Compiles once, then times JSON.parse + validate for a
// fixed duration after a warm-up, and prints one JSON line.
//
//   node ajv_bench.mjs [--schema=FILE] [--message=FILE] [--seconds=3] [--warmup=1] [--rounds=3]
//
// The measured time is split into `rounds` equal rounds; the figures are their median.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import Ajv from "ajv";
import addFormats from "ajv-formats";

const here = dirname(fileURLToPath(import.meta.url));
const v1 = resolve(here, "../../../schemas/v1");
const opts = {
  schema: resolve(v1, "json/dispute.application.schema.json"),
  message: resolve(v1, "examples/valid/dispute.application.json"),
  seconds: 3,
  warmup: 1,
  rounds: 3,
};
for (const arg of process.argv.slice(2)) {
  const m = /^--([a-z]+)=(.*)$/.exec(arg);
  if (!m || !(m[1] in opts)) {
    console.error(`ajv_bench: unknown argument ${arg}`);
    process.exit(2);
  }
  opts[m[1]] = typeof opts[m[1]] === "number" ? Number(m[2]) : m[2];
}

const schemaText = readFileSync(opts.schema, "utf8");
const messageText = readFileSync(opts.message, "utf8");
const messageBytes = Buffer.byteLength(messageText, "utf8");

const compileStart = process.hrtime.bigint();
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(schemaText));
const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6;

if (!validate(JSON.parse(messageText))) {
  console.error("ajv_bench: the benchmark message is not valid:", JSON.stringify(validate.errors));
  process.exit(1);
}

// Runs `fn` in batches until `seconds` have passed; returns wall and CPU (all threads) per call.
function timeFor(seconds, fn) {
  const batch = 256;
  const limit = BigInt(Math.round(seconds * 1e9));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let n = 0;
  let invalid = 0;
  let elapsed = 0n;
  do {
    for (let i = 0; i < batch; ++i) if (!fn()) ++invalid;
    n += batch;
    elapsed = process.hrtime.bigint() - t0;
  } while (elapsed < limit);
  const cpu = process.cpuUsage(cpu0);
  if (invalid !== 0) throw new Error(`${invalid} of ${n} validations failed`);
  return {
    n,
    usPerMsg: Number(elapsed) / 1e3 / n,
    cpuUsPerMsg: (cpu.user + cpu.system) / n,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const parseAndValidate = () => validate(JSON.parse(messageText));
const parsed = JSON.parse(messageText);
const validateOnly = () => validate(parsed);

timeFor(opts.warmup, parseAndValidate);
const rounds = [];
for (let r = 0; r < opts.rounds; ++r) rounds.push(timeFor(opts.seconds / opts.rounds, parseAndValidate));
timeFor(Math.min(opts.warmup, 0.5), validateOnly);
const only = timeFor(Math.max(opts.seconds / opts.rounds, 0.5), validateOnly);

const require = createRequire(import.meta.url);
const us = median(rounds.map((r) => r.usPerMsg));
console.log(
  JSON.stringify({
    engine: "ajv",
    ajv: require("ajv/package.json").version,
    ajv_formats: require("ajv-formats/package.json").version,
    node: process.version,
    message_bytes: messageBytes,
    compile_ms: Number(compileMs.toFixed(2)),
    msgs_per_s: Math.round(1e6 / us),
    us_per_msg: Number(us.toFixed(3)),
    cpu_us_per_msg: Number(median(rounds.map((r) => r.cpuUsPerMsg)).toFixed(3)),
    validate_only_us_per_msg: Number(only.usPerMsg.toFixed(3)),
    validate_only_cpu_us_per_msg: Number(only.cpuUsPerMsg.toFixed(3)),
    rounds_us_per_msg: rounds.map((r) => Number(r.usPerMsg.toFixed(3))),
    messages: rounds.reduce((a, r) => a + r.n, 0),
  }),
);
