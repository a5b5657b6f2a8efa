#!/usr/bin/env node
// Bench-only: compile one Solidity file with the pinned npm solc (never downloads a
// compiler) and print {"<Name>": {"abi": [...], "bytecode": "0x..."}} on stdout.
//
//   node bench/solc_compile.mjs bench/BenchDepositEmitter.sol
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const solc = require('solc');

const file = process.argv[2];
const input = {
  language: 'Solidity',
  sources: { [path.basename(file)]: { content: fs.readFileSync(file, 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage}\n`);
if (errors.length) process.exit(1);
const result = {};
for (const contracts of Object.values(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    result[name] = { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
  }
}
process.stdout.write(JSON.stringify(result));
