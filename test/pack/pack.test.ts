/**
 * The packages as a user gets them: built (tsc -b), packed (npm pack), the
 * tarballs unpacked into a fresh project, then used there with plain node
 * (no tsx, no source condition) and type-checked by a strict consumer
 * (exactOptionalPropertyTypes, lib ES2022 only, skipLibCheck false).
 *
 * Offline by design: the tarballs are unpacked where npm would put them
 * (node_modules/@conclave/*), and the registry dependencies they declare
 * resolve from the repo's installed node_modules (the project sits under
 * the repo root). Because that hoisting would hide a missing declaration,
 * every bare import in each tarball's JS and .d.ts is checked against its
 * package.json here.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { builtinModules } from "node:module";
import { createServer, type AddressInfo } from "node:net";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const PACKAGES = ["mls", "api", "client", "server", "cli"] as const;
/** Plain node: the tests' NODE_OPTIONS (source condition, tsx) must not reach the consumer. */
const { NODE_OPTIONS: _dropped, ...PLAIN_ENV } = process.env;
const env = { ...PLAIN_ENV, CONCLAVE_SIGNATURE_WORKER: "0" };

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports: Record<string, unknown>;
  files: string[];
}

function run(cmd: string, args: string[], cwd: string, timeout = 180_000): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** The package a bare specifier names ("@scope/name/sub" → "@scope/name"), or undefined for relative, builtin and #imports. */
function packageOf(spec: string): string | undefined {
  if (spec.startsWith(".") || spec.startsWith("#") || spec.startsWith("node:") || builtinModules.includes(spec)) return undefined;
  const parts = spec.split("/");
  return spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

/** Module specifiers in emitted JS and .d.ts: static imports/exports (tsc puts each on its own lines), import(), require(). */
const IMPORTS = /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|\brequire\(\s*["']([^"']+)["']\s*\)/gm;

let work: string;
let project: string;
const tarballs = new Map<string, string>();
const children: ChildProcess[] = [];

beforeAll(() => {
  work = mkdtempSync(join(ROOT, ".pack-"));
  project = join(work, "consumer");
  run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.build.json"], ROOT);
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work, ...PACKAGES.flatMap((p) => ["-w", `packages/${p}`])], ROOT).stdout) as {
    name: string;
    filename: string;
  }[];
  for (const p of packed) tarballs.set(p.name, join(work, p.filename));
  cpSync(join(ROOT, "test/pack/consumer"), project, { recursive: true });
  for (const [name, file] of tarballs) {
    const dest = join(project, "node_modules", name);
    mkdirSync(dest, { recursive: true });
    run("tar", ["-xzf", file, "-C", dest, "--strip-components=1"], work);
    // Dependencies npm nested under the workspace (a version the root does not hoist) go where an install nests them.
    const nested = join(ROOT, "packages", name.slice("@conclave/".length), "node_modules");
    if (existsSync(nested)) {
      for (const entry of readdirSync(nested).filter((n) => n !== ".bin")) {
        const scoped = entry.startsWith("@") ? readdirSync(join(nested, entry)).map((n) => `${entry}/${n}`) : [entry];
        for (const dep of scoped) {
          mkdirSync(join(dest, "node_modules", dep, ".."), { recursive: true });
          symlinkSync(join(nested, dep), join(dest, "node_modules", dep), "dir");
        }
      }
    }
  }
}, 300_000);

afterAll(() => {
  for (const c of children) c.kill("SIGTERM");
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("npm pack of every package", () => {
  it("ships dist (JS + .d.ts), README and LICENSE, and no sources or tests", () => {
    expect([...tarballs.keys()].sort()).toEqual(PACKAGES.map((p) => `@conclave/${p}`).sort());
    for (const name of tarballs.keys()) {
      const dir = join(project, "node_modules", name);
      const files = walk(dir).map((f) => relative(dir, f));
      for (const f of ["package.json", "README.md", "LICENSE", "dist/index.js", "dist/index.d.ts"]) expect(files, `${name} ${f}`).toContain(f);
      expect(
        files.filter((f) => f.startsWith("src/") || f.startsWith("test/") || f.endsWith(".tsbuildinfo")),
        name,
      ).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
      const root = manifest.exports["."] as Record<string, unknown>;
      expect(Object.keys(root).slice(0, 1), `${name}: the source condition comes first`).toEqual(["@conclave/source"]);
      expect(root.types, name).toBe("./dist/index.d.ts");
      expect(root.import, name).toBe("./dist/index.js");
    }
  });

  it("declares every package its JS and .d.ts import", () => {
    const undeclared: string[] = [];
    const seen = new Set<string>();
    for (const name of tarballs.keys()) {
      const dir = join(project, "node_modules", name);
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
      const declared = new Set([name, ...Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies })]);
      for (const file of walk(join(dir, "dist")).filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"))) {
        for (const m of readFileSync(file, "utf8").matchAll(IMPORTS)) {
          const spec = m[1] ?? m[2] ?? m[3] ?? m[4]!;
          let pkg = packageOf(spec);
          if (pkg !== undefined) seen.add(`${name} -> ${pkg}`);
          // A .d.ts that names a package with no types of its own needs its @types package.
          if (pkg !== undefined && file.endsWith(".d.ts") && !declared.has(pkg) && declared.has(`@types/${pkg}`)) pkg = `@types/${pkg}`;
          if (pkg !== undefined && !declared.has(pkg)) undeclared.push(`${name}: ${relative(dir, file)} imports ${spec}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
    // The scan sees real imports (so an empty list above means something).
    for (const edge of ["@conclave/api -> @conclave/mls", "@conclave/mls -> @noble/curves", "@conclave/server -> fastify", "@conclave/cli -> @conclave/client"]) expect(seen).toContain(edge);
  });
});

describe("a fresh project using the tarballs with plain node", () => {
  it("type-checks a strict consumer (exactOptionalPropertyTypes, lib ES2022, skipLibCheck false) and builds it", () => {
    run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], project);
    expect(readdirSync(join(project, "out")).sort()).toEqual(["quickstart.js", "sdk.js"]);
  });

  it("runs the library quick start: create, add, join by Welcome, encrypt, decrypt", () => {
    const { stdout } = run(process.execPath, ["out/quickstart.js"], project, 60_000);
    expect(stdout.trim()).toBe("epoch 1: hello, bob");
  });

  it("serves from the installed CLI and makes an SDK round trip against it", async () => {
    const bin = join(project, "node_modules/@conclave/cli/bin/conclave.js");
    const help = run(process.execPath, [bin, "--help"], project, 30_000);
    expect(help.stdout).toMatch(/^usage: conclave <command>/);
    const server = spawn(process.execPath, [bin, "serve", "--db", join(work, "ds.sqlite"), "--port", "0", "--domain", "pack.example", "--no-rate-limit", "--open-registration"], {
      cwd: project,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(server);
    const url = await new Promise<string>((res, rej) => {
      let out = "";
      server.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+?)\/v1;/.exec(out);
        if (m) res(m[1]!);
      });
      server.stderr!.on("data", (d: Buffer) => (out += d.toString()));
      server.on("exit", (code) => rej(new Error(`server exited ${code}: ${out}`)));
    });
    const { stdout } = run(process.execPath, ["out/sdk.js", url], project, 60_000);
    const lines = stdout.trim().split("\n");
    expect(lines).toContain("joined");
    expect(lines).toContain("message hello from the packed SDK");
    expect(lines.at(-1)).toBe("safety match");
  });
});

describe("the README, literally, against the installed packages", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  /** The first fenced block of `lang` after `marker`. */
  const blockAfter = (marker: string, lang: string): string => {
    const at = readme.indexOf(marker);
    expect(at, marker).toBeGreaterThan(-1);
    const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(at));
    return m![1]!;
  };

  it("shows the library quick start that the consumer compiles and runs", () => {
    const file = readFileSync(join(ROOT, "test/pack/consumer/quickstart.ts"), "utf8");
    expect(blockAfter("## Library quick start", "ts")).toBe(file.slice(file.indexOf("\n") + 1));
  });

  it("runs the CLI walk-through with the installed conclave command", async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => res(p));
      });
    });
    const walk = join(work, "walk");
    const script = blockAfter("A walk-through with two users on one machine, literally:", "sh").replaceAll("7300", String(port)).replaceAll("/tmp/conclave", walk);
    const binDir = join(work, "bin");
    mkdirSync(binDir, { recursive: true });
    symlinkSync(join(project, "node_modules/@conclave/cli/bin/conclave.js"), join(binDir, "conclave"));
    // The server the script starts in the background must not outlive a failing step (it would hold the pipe open).
    const guarded = `trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`;
    const r = spawnSync("bash", ["-e", "-c", guarded], {
      cwd: work,
      env: { ...env, PATH: `${binDir}:${process.env.PATH ?? ""}`, CONCLAVE_PORT: String(port) },
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toContain("registered alice@localhost#laptop");
    expect(lines).toContain("registered bob@localhost#phone");
    expect(lines.filter((l) => / joined at epoch 1: alice@localhost#laptop, bob@localhost#phone$/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => / alice@localhost#laptop: hi bob$/.test(l))).toHaveLength(1);
  });
});
