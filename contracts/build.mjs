// Compiles PhalanxToken and Phalanx's benchmark contracts (KVStore, CPUHeavy,
// SwapHelper) with solc-js (standard JSON) and copies the Uniswap V2 artifacts
// unchanged from the @uniswap/v2-core package. Writes the artifacts into the
// directory given as the first argument. Invoked by build.sh.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const here = path.dirname(new URL(import.meta.url).pathname);
const outDir = process.argv[2];
if (!outDir) {
  throw new Error("usage: node build.mjs OUT_DIR");
}

function pkgVersion(name) {
  return require(`${name}/package.json`).version;
}

function hex(s) {
  if (typeof s !== "string" || s.length === 0) {
    throw new Error("empty bytecode");
  }
  return s.startsWith("0x") ? s : `0x${s}`;
}

function write(name, artifact) {
  const file = path.join(outDir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + "\n");
}

// Settings are part of the artifact so a reader can reproduce the bytecode.
const settings = {
  optimizer: { enabled: true, runs: 200 },
  // Phalanx executes with Cancun rules.
  evmVersion: "cancun",
  // No IPFS hash of the metadata: it depends on absolute source paths on some
  // setups; with "none" the bytecode depends only on sources and settings.
  metadata: { bytecodeHash: "none" },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function findImport(importPath) {
  try {
    return { contents: fs.readFileSync(require.resolve(importPath), "utf8") };
  } catch (e) {
    return { error: `import not found: ${importPath}` };
  }
}

// Compiles one source file on its own (one standard-JSON input per file, so
// adding a contract never changes another's bytecode) and returns its
// contract `contractName`.
function compileSource(srcName, contractName) {
  const input = {
    language: "Solidity",
    sources: { [srcName]: { content: fs.readFileSync(path.join(here, srcName), "utf8") } },
    settings,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  if (errors.length > 0) {
    throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  }
  return output.contracts[srcName][contractName];
}

function writeCompiled(name, contractName, c, source) {
  write(name, {
    contractName,
    abi: c.abi,
    bytecode: hex(c.evm.bytecode.object),
    deployedBytecode: hex(c.evm.deployedBytecode.object),
    compiler: { name: "solc-js", version: solc.version(), settings: { ...settings, outputSelection: undefined } },
    source,
  });
}

function compileToken() {
  const c = compileSource("src/PhalanxToken.sol", "PhalanxToken");
  writeCompiled("ERC20", "PhalanxToken", c, {
    package: "@openzeppelin/contracts",
    version: pkgVersion("@openzeppelin/contracts"),
  });
}

// Phalanx's own contracts: the artifact is named after the contract and its
// source is this package (contracts/package.json).
function compileOwn(contractName) {
  const c = compileSource(`src/${contractName}.sol`, contractName);
  const own = require("./package.json");
  writeCompiled(contractName, contractName, c, { package: own.name, version: own.version });
}

function copyUniswap(name) {
  const pkg = "@uniswap/v2-core";
  const built = require(`${pkg}/build/${name}.json`);
  const meta = JSON.parse(built.metadata);
  const { compilationTarget, ...metaSettings } = meta.settings;
  write(name, {
    contractName: name,
    abi: built.abi,
    bytecode: hex(built.evm.bytecode.object),
    deployedBytecode: hex(built.evm.deployedBytecode.object),
    compiler: { name: "solc", version: meta.compiler.version, settings: metaSettings },
    source: { package: pkg, version: pkgVersion(pkg) },
  });
}

fs.mkdirSync(outDir, { recursive: true });
compileToken();
compileOwn("KVStore");
compileOwn("CPUHeavy");
compileOwn("SwapHelper");
copyUniswap("UniswapV2Factory");
copyUniswap("UniswapV2Pair");
