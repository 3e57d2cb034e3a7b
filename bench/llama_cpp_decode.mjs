// llama.cpp's CPU decode speed on the same GGUF files `rwkv-oracle bench` times
// (out/bench-models/synth-*.gguf), for the comparison in bench/README.md.
//
//   mkdir -p /tmp/llama && cd /tmp/llama && npm i node-llama-cpp@3.22.1
//   NODE_PATH=/tmp/llama/node_modules node bench/llama_cpp_decode.mjs [--threads 2] [--tokens 64] [--repeat 3] \
//       out/bench-models/synth-0.1b-seed1-fp16.gguf ...
//
// Per file: CPU only (no GPU layers), the given thread count for evaluation,
// greedy sampling; one untimed warm-up generation, then `repeat` timed runs of
// `tokens` single-token decode steps from an empty context (like llama-bench's
// tg64: the first step evaluates one prompt token, every later step the token
// just sampled). Prints the best and the median tokens/s of the runs.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), "x.js"));
const entry = require.resolve("node-llama-cpp");
const { getLlama } = await import(entry);
let version = "?";
for (let dir = path.dirname(entry); dir !== path.dirname(dir); dir = path.dirname(dir)) {
  const pj = path.join(dir, "package.json");
  if (fs.existsSync(pj)) {
    const p = JSON.parse(fs.readFileSync(pj, "utf8"));
    if (p.name === "node-llama-cpp") { version = p.version; break; }
  }
}

const args = process.argv.slice(2);
let threads = 2, tokens = 64, repeat = 3;
const files = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i] === "--threads") threads = Number(args[++i]);
  else if (args[i] === "--tokens") tokens = Number(args[++i]);
  else if (args[i] === "--repeat") repeat = Number(args[++i]);
  else files.push(args[i]);
}
if (files.length === 0) {
  console.error("usage: node bench/llama_cpp_decode.mjs [--threads N] [--tokens N] [--repeat N] model.gguf ...");
  process.exit(2);
}

const llama = await getLlama({ gpu: false });
console.log(`node-llama-cpp ${version}, CPU, ${threads} threads, tg${tokens}`);
console.log("| model | tg tok/s (best) | median |\n|---|---|---|");
for (const file of files) {
  const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const rates = [];
  for (let r = 0; r <= repeat; ++r) {
    const context = await model.createContext({ contextSize: 256, batchSize: 64, threads });
    const sequence = context.getSequence();
    const t0 = performance.now();
    let n = 0;
    for await (const _ of sequence.evaluate([1], { temperature: 0 })) {
      if (++n >= tokens) break;
    }
    const s = (performance.now() - t0) / 1e3;
    if (r > 0) rates.push(tokens / s);  // run 0: warm-up
    await context.dispose();
  }
  rates.sort((a, b) => a - b);
  console.log(`| ${path.basename(file)} | ${rates[rates.length - 1].toFixed(1)} | ${rates[rates.length >> 1].toFixed(1)} |`);
  await model.dispose();
}
