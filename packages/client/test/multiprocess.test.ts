/**
 * The whole RFC 9750 flow with every party in its own OS process: `conclave
 * serve` (DS+AS on SQLite) and one Client driver process per device
 * (support/driver.ts: a Client on an encrypted FileStore, driven by JSON lines).
 * Processes share nothing but the server's sockets and, for a restarted
 * device, its own store directory.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Driver, RemoteError, startServerProcess, type ServerProcess } from "./support/processes.js";

interface Ev {
  type: "message" | "joined" | "membership" | "error";
  groupId: string;
  sender?: string;
  text?: string;
  epoch: number;
  by?: string;
  added?: string[];
  removed?: string[];
  members?: string[];
  selfRemoved?: boolean;
  code?: string;
  message?: string;
}
interface State {
  epoch: number;
  members: string[];
  safetyNumber: string;
  authenticator: string;
}

let dir: string;
let server: ServerProcess;
const drivers: Driver[] = [];
const u = Math.random().toString(36).slice(2, 7);
const user = (name: string) => `${name}${u}`;
const id = (name: string, device: string) => `${user(name)}@mp.example#${device}`;

async function device(name: string): Promise<Driver> {
  const d = await Driver.start(name, server.url, join(dir, name));
  drivers.push(d);
  return d;
}

const sync = (d: Driver) => d.call<Ev[]>("sync");
const state = (d: Driver, g: string) => d.call<State>("state", { groupId: g });
/** "sender-user:text" of the message events of group g, in arrival order. */
const texts = (evs: Ev[], g: string) => evs.filter((e) => e.type === "message" && e.groupId === g).map((e) => `${e.sender!.split("@")[0]!.replace(u, "")}:${e.text}`);
const noErrors = (evs: Ev[]) => expect(evs.filter((e) => e.type === "error")).toEqual([]);

/** Every member process agrees on the group: same epoch, authenticator, safety number and roster. */
async function converged(g: string, members: Driver[], epoch?: number): Promise<State> {
  const states = await Promise.all(members.map((d) => state(d, g)));
  const first = states[0]!;
  for (const s of states) expect(s).toEqual(first);
  if (epoch !== undefined) expect(first.epoch).toBe(epoch);
  expect(first.members.length).toBe(members.length);
  return first;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conclave-mp-"));
  server = await startServerProcess(join(dir, "ds.sqlite"));
}, 90_000);

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.kill()));
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("clients in separate processes against `conclave serve`", () => {
  let alice: Driver, bobPhone: Driver, carol: Driver, bobLaptop: Driver;
  let g1: string, g2: string;
  let bobSecret: string;

  it("register, create a group, add users by name, messages both ways", async () => {
    [alice, bobPhone, carol] = await Promise.all([device("alice"), device("bobphone"), device("carol")]);
    const regs = await Promise.all([
      alice.call<{ identity: string }>("register", { user: user("alice"), device: "laptop" }),
      bobPhone.call<{ identity: string; recoveryCode: string }>("register", { user: user("bob"), device: "phone" }),
      carol.call<{ identity: string }>("register", { user: user("carol"), device: "pc" }),
    ]);
    expect(regs.map((r) => r.identity)).toEqual([id("alice", "laptop"), id("bob", "phone"), id("carol", "pc")]);
    bobSecret = regs[1]!.recoveryCode;

    g1 = await alice.call<string>("createGroup");
    expect(await alice.call("addUser", { groupId: g1, user: user("bob") })).toEqual([id("bob", "phone")]);
    expect(await alice.call("addUser", { groupId: g1, user: user("carol") })).toEqual([id("carol", "pc")]);
    const [bobJoin, carolJoin] = await Promise.all([sync(bobPhone), sync(carol)]);
    expect(bobJoin.map((e) => [e.type, e.epoch])).toEqual([
      ["joined", 1],
      ["membership", 2],
    ]);
    expect(carolJoin).toMatchObject([{ type: "joined", epoch: 2, members: [id("alice", "laptop"), id("bob", "phone"), id("carol", "pc")] }]);
    await converged(g1, [alice, bobPhone, carol], 2);

    await alice.call("send", { groupId: g1, text: "hello from alice" });
    await bobPhone.call("send", { groupId: g1, text: "hello from bob" });
    await carol.call("send", { groupId: g1, text: "hello from carol" });
    const [a, b, c] = await Promise.all([sync(alice), sync(bobPhone), sync(carol)]);
    for (const evs of [a, b, c]) noErrors(evs);
    expect(texts(a, g1)).toEqual(["bob:hello from bob", "carol:hello from carol"]);
    expect(texts(b, g1)).toEqual(["alice:hello from alice", "carol:hello from carol"]);
    expect(texts(c, g1)).toEqual(["alice:hello from alice", "bob:hello from bob"]);
  }, 120_000);

  it("two members commit at once: one gets 409, catches up, retries; all converge", async () => {
    const [b, c] = await Promise.all([bobPhone.call<number>("update", { groupId: g1 }), carol.call<number>("update", { groupId: g1 })]);
    expect([b, c].sort()).toEqual([3, 4]);
    const conflicts = await Promise.all([bobPhone, carol].map((d) => d.call<{ commitConflicts: number }>("stats")));
    expect(conflicts.map((x) => x.commitConflicts).reduce((x, y) => x + y)).toBe(1);
    const evs = await Promise.all([alice, bobPhone, carol].map(sync));
    for (const e of evs) noErrors(e);
    // Alice saw both commits; the loser learned of the winner's commit while catching up.
    expect(evs[0]!.filter((e) => e.type === "membership").map((e) => e.epoch)).toEqual([3, 4]);
    await converged(g1, [alice, bobPhone, carol], 4);
  }, 60_000);

  it("a client SIGKILLed mid-sync and restarted from its store loses no message and no group", async () => {
    await alice.call("send", { groupId: g1, text: "m1" });
    await bobPhone.call("send", { groupId: g1, text: "m2" });
    // Carol dies inside her next sync after decrypting m1 and m2 and writing her journal and group state, before
    // acknowledging them to the DS (inbox.ts: journal → group records → ack → journal cleared).
    await carol.call("dieOnRequest", { path: "/v1/queue/ack" });
    const died = carol.died();
    await expect(sync(carol)).rejects.toThrow(/exited/);
    expect(await died).toBe("SIGKILL");
    // Killed after the batch's commit point: the journal is on disk.
    expect(existsSync(join(dir, "carol", "inbox-journal.rec"))).toBe(true);
    // While she is dead: more messages and a commit.
    await alice.call("send", { groupId: g1, text: "m3" });
    expect(await alice.call<number>("update", { groupId: g1 })).toBe(5);
    await bobPhone.call("send", { groupId: g1, text: "m4" });

    await carol.restart();
    expect(await carol.call("whoami")).toEqual({ identity: id("carol", "pc"), groups: [g1] });
    const evs = await sync(carol);
    noErrors(evs);
    expect(texts(evs, g1)).toEqual(["alice:m1", "bob:m2", "alice:m3", "bob:m4"]);
    expect(texts(await sync(bobPhone), g1)).toEqual(["alice:m1", "alice:m3"]);
    expect(texts(await sync(alice), g1)).toEqual(["bob:m2", "bob:m4"]);
    await converged(g1, [alice, bobPhone, carol], 5);
    await carol.call("send", { groupId: g1, text: "carol is back" });
    const [a, b] = await Promise.all([sync(alice), sync(bobPhone)]);
    expect(texts(a, g1)).toEqual(["carol:carol is back"]);
    expect(texts(b, g1)).toEqual(["carol:carol is back"]);
  }, 120_000);

  it("a new device of a user is added to every group that user is in", async () => {
    g2 = await carol.call<string>("createGroup");
    expect(await carol.call("addUser", { groupId: g2, user: user("bob") })).toEqual([id("bob", "phone")]);
    expect((await sync(bobPhone)).map((e) => e.type)).toEqual(["joined"]);

    bobLaptop = await device("boblaptop");
    await bobLaptop.call("register", { user: user("bob"), device: "laptop", recoveryCode: bobSecret });
    const added = await bobPhone.call<Record<string, string[]>>("addOwnDevices");
    expect(added).toEqual({ [g1]: [id("bob", "laptop")], [g2]: [id("bob", "laptop")] });
    const joined = await sync(bobLaptop);
    expect(joined.map((e) => [e.type, e.groupId]).sort()).toEqual(
      [
        ["joined", g1],
        ["joined", g2],
      ].sort(),
    );
    expect((await bobLaptop.call<{ groups: string[] }>("whoami")).groups.sort()).toEqual([g1, g2].sort());
    await Promise.all([sync(alice), sync(carol)]);
    await converged(g1, [alice, bobPhone, carol, bobLaptop], 6);
    await converged(g2, [carol, bobPhone, bobLaptop], 2);

    await alice.call("send", { groupId: g1, text: "to every bob" });
    await carol.call("send", { groupId: g2, text: "in g2" });
    const [phone, laptop] = await Promise.all([sync(bobPhone), sync(bobLaptop)]);
    for (const evs of [phone, laptop]) {
      expect(texts(evs, g1)).toEqual(["alice:to every bob"]);
      expect(texts(evs, g2)).toEqual(["carol:in g2"]);
    }
    // Adding again finds nothing new.
    expect(await bobPhone.call("addOwnDevices")).toEqual({ [g1]: [], [g2]: [] });
  }, 120_000);

  it("remove, update, leave (SelfRemove committed by another member)", async () => {
    expect(await alice.call("removeMember", { groupId: g1, who: user("carol") })).toEqual([id("carol", "pc")]);
    const carolSaw = await sync(carol);
    expect(texts(carolSaw, g1)).toEqual(["alice:to every bob"]);
    expect(carolSaw.filter((e) => e.type !== "message")).toMatchObject([{ type: "membership", groupId: g1, selfRemoved: true, removed: [id("carol", "pc")] }]);
    expect((await carol.call<{ groups: string[] }>("whoami")).groups).toEqual([g2]);
    await expect(carol.call("send", { groupId: g1, text: "still here?" })).rejects.toMatchObject({ code: "NOT_GROUP_MEMBER" });
    // A store holding a group we were removed from still opens, without that group.
    await carol.restart();
    expect((await carol.call<{ groups: string[] }>("whoami")).groups).toEqual([g2]);
    await expect(carol.call("send", { groupId: g1, text: "still here?" })).rejects.toMatchObject({ code: "GROUP_NOT_FOUND" });
    await Promise.all([sync(bobPhone), sync(bobLaptop)]);

    expect(await bobLaptop.call<number>("update", { groupId: g1 })).toBe(8);
    await Promise.all([sync(alice), sync(bobPhone)]);
    await converged(g1, [alice, bobPhone, bobLaptop], 8);

    // Bob's phone leaves g2: it proposes, Carol's client commits the proposal on her next sync.
    await bobPhone.call("leave", { groupId: g2 });
    const committed = await sync(carol);
    noErrors(committed);
    expect(committed.filter((e) => e.type === "membership")).toMatchObject([{ groupId: g2, by: id("carol", "pc"), removed: [id("bob", "phone")] }]);
    expect((await sync(bobPhone)).filter((e) => e.groupId === g2)).toMatchObject([{ type: "membership", selfRemoved: true }]);
    expect((await bobPhone.call<{ groups: string[] }>("whoami")).groups).toEqual([g1]);
    await sync(bobLaptop);
    const s2 = await converged(g2, [carol, bobLaptop], 3);
    expect(s2.members).toEqual([id("bob", "laptop"), id("carol", "pc")].sort());
  }, 120_000);

  it("recover after local state loss: rejoin by external commit, then talk both ways", async () => {
    await alice.kill();
    // Alice's device lost g1's state (her identity and queue position survive).
    const aliceDir = join(dir, "alice");
    const record = readdirSync(aliceDir).find((f) => f.startsWith("group~"));
    expect(record).toBeDefined();
    rmSync(join(aliceDir, record!));
    expect(existsSync(join(aliceDir, record!))).toBe(false);
    await alice.restart();
    expect(await alice.call("whoami")).toEqual({ identity: id("alice", "laptop"), groups: [] });
    await expect(alice.call("send", { groupId: g1, text: "x" })).rejects.toBeInstanceOf(RemoteError);

    expect(await alice.call<number>("recover", { groupId: g1 })).toBe(9);
    const [p, l] = await Promise.all([sync(bobPhone), sync(bobLaptop)]);
    for (const evs of [p, l]) {
      noErrors(evs);
      expect(evs.filter((e) => e.type === "membership")).toMatchObject([{ by: "external", added: [id("alice", "laptop")], removed: [id("alice", "laptop")] }]);
    }
    await converged(g1, [alice, bobPhone, bobLaptop], 9);
    await alice.call("send", { groupId: g1, text: "recovered" });
    await bobLaptop.call("send", { groupId: g1, text: "welcome back" });
    const [a, phone] = await Promise.all([sync(alice), sync(bobPhone)]);
    expect(texts(a, g1)).toEqual(["bob:welcome back"]);
    expect(texts(phone, g1)).toEqual(["alice:recovered", "bob:welcome back"]);
  }, 120_000);
});
