import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// A frozen process cannot time itself out, so the churn runs in a child the test can kill.
const CHILD = fileURLToPath(new URL("./support/ephemeralChurn.ts", import.meta.url));

function runChild(count: number, timeoutMs: number): Promise<{ out: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", CHILD, String(count)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", (_code, signal) => {
      clearTimeout(timer);
      resolve({ out, timedOut: signal === "SIGKILL" });
    });
  });
}

describe("node provider: HPKE ephemeral keys", () => {
  // With generateKeyPairSync + JWK export this froze within 6k-22k iterations on Node 20.
  it("30,000 ephemerals under GC churn finish (no keygen/export deadlock)", async () => {
    const r = await runChild(30_000, 60_000);
    expect(r.timedOut).toBe(false);
    expect(r.out.trim()).toBe("ok");
  }, 70_000);
});
