#!/usr/bin/env node
// Compiles contracts/*.sol with the pinned npm `solc` (never downloads a compiler) and
// writes contracts/out/<Name>.json: abi, bytecode, deployedBytecode, compiler settings
// and a sourceHash over compiler version + standard-JSON input. Output is byte-stable
// for the same inputs, so a stale committed artifact shows up as a diff.
//
//   node scripts/build_contracts.mjs [--out DIR] [--check]
//
// --check compiles in memory and exits 1 if DIR does not hold exactly those artifacts.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const solc = require('solc');

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACTS_DIR = path.join(ROOT, 'contracts');
const EXPECTED_COMPILER = '0.8.28+commit.7893614a';

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'ipfs' },
  outputSelection: {
    '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] },
  },
};

function parseArgs(argv) {
  const args = { out: path.join(CONTRACTS_DIR, 'out'), check: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') args.out = path.resolve(argv[++i]);
    else if (argv[i] === '--check') args.check = true;
    else throw new Error(`unknown argument: ${argv[i]}`);
  }
  return args;
}

function readSources() {
  const names = fs.readdirSync(CONTRACTS_DIR).filter((n) => n.endsWith('.sol')).sort();
  const sources = {};
  for (const name of names) {
    sources[`contracts/${name}`] = { content: fs.readFileSync(path.join(CONTRACTS_DIR, name), 'utf8') };
  }
  return sources;
}

function compile() {
  const version = solc.version();
  if (!version.startsWith(EXPECTED_COMPILER)) {
    throw new Error(`solc ${EXPECTED_COMPILER} expected, found ${version}; run make setup`);
  }
  const input = { language: 'Solidity', sources: readSources(), settings: SETTINGS };
  const inputJson = JSON.stringify(input);
  const output = JSON.parse(solc.compile(inputJson));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage}\n`);
  if (errors.length) throw new Error(`${errors.length} compilation error(s)`);

  const sourceHash = '0x' + createHash('sha256').update(version).update('\n').update(inputJson).digest('hex');
  const artifacts = {};
  for (const [file, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
      if (artifacts[name]) throw new Error(`two contracts named ${name}`);
      const artifact = {
        contractName: name,
        sourceName: file,
        compiler: { version, settings: SETTINGS },
        sourceHash,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      artifacts[`${name}.json`] = JSON.stringify(artifact, null, 2) + '\n';
    }
  }
  return artifacts;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const artifacts = compile();
  const existing = fs.existsSync(args.out)
    ? fs.readdirSync(args.out).filter((n) => n.endsWith('.json'))
    : [];
  if (args.check) {
    const problems = [];
    for (const [name, text] of Object.entries(artifacts)) {
      const file = path.join(args.out, name);
      if (!fs.existsSync(file)) problems.push(`missing ${name}`);
      else if (fs.readFileSync(file, 'utf8') !== text) problems.push(`stale ${name}`);
    }
    for (const name of existing) if (!(name in artifacts)) problems.push(`unexpected ${name}`);
    if (problems.length) {
      process.stderr.write(`contract artifacts out of date (${problems.join(', ')}); run make contracts\n`);
      process.exit(1);
    }
    process.stdout.write(`contract artifacts up to date (${Object.keys(artifacts).length})\n`);
    return;
  }
  fs.mkdirSync(args.out, { recursive: true });
  for (const name of existing) if (!(name in artifacts)) fs.unlinkSync(path.join(args.out, name));
  for (const [name, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(args.out, name), text);
  process.stdout.write(`wrote ${Object.keys(artifacts).sort().join(', ')} to ${path.relative(ROOT, args.out) || '.'}\n`);
}

main();
