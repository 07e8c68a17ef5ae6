#!/usr/bin/env node
// Installed, `#main` is the built dist/main.js and this runs on plain node.
// In the repo (node --conditions=@conclave/source, as the tests and npm
// scripts run it) `#main` is the TypeScript source, loaded through tsx.
const fromSource = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((a) => a.includes("@conclave/source"));
if (fromSource && !(process.env.NODE_OPTIONS ?? "").includes("tsx")) (await import("tsx/esm/api")).register();
const { main } = await import("#main");
process.exitCode = await main(process.argv.slice(2));
