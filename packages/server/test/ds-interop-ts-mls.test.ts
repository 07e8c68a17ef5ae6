/**
 * Issue 17's interop requirement through the real DS: a member running
 * ts-mls (an independent RFC 9420 implementation) joins a Conclave group
 * from a Welcome with the tree the DS serves, commits as PublicMessage with
 * its own signed GroupInfo, and exchanges application messages, while the
 * DS validates every handshake against its own state. Nothing in the DS is
 * specific to Conclave's client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64Url, x25519GenerateKeyPair, type GroupTreeResponse, type TokenResponse } from "@conclave/api";
import { utf8 } from "@conclave/mls";
import { TsMember, tsKeyPackage } from "../../mls/test/support/tsmls.js";
import { NO_RATE_LIMITS, uploadKeyPackages } from "./ds-support.js";
import { ENGINES } from "./support/engines.js";
import { commit, createGroup, groupPath, postBundle, postMessage } from "./support/mlsGroup.js";
import { createAccount, registerDevice, registration, startServer, type Device, type RunningServer } from "./support/server.js";

const now = () => BigInt(Math.floor(Date.now() / 1000));

describe.each(ENGINES)("a ts-mls member through the validating DS [$name]", (engine) => {
  let s: RunningServer;
  beforeAll(async () => {
    if (engine.available) s = await startServer(engine, NO_RATE_LIMITS);
  });
  afterAll(async () => {
    await s?.close();
  });

  it.skipIf(!engine.available)("joins by Welcome, commits as PublicMessage, and talks both ways", async () => {
    // ts-mls checks leaf lifetimes against the real time: run the DS on it too.
    s.clock.now = Date.now();
    const config = { clock: now };
    const a = await registerDevice(s, `ia-${engine.name}`, "d");
    const user = `it-${engine.name}`;
    const code = await createAccount(s, user);
    const kp = await tsKeyPackage(1, `${user}@example.com#d`, { notBefore: now() - 3600n, notAfter: now() + 30n * 86_400n });
    // The ts-mls member's own signature key is the one its device registers with the AS.
    // ts-mls keeps an Ed25519 private key as PKCS#8 DER (16-byte header, then the seed); ours is the 32-byte seed.
    const keys = { publicKey: kp.publicPackage.leafNode.signaturePublicKey, privateKey: kp.privatePackage.signaturePrivateKey.subarray(-32) };
    const { d, body } = await registration(s, user, "d", { kind: "recovery", recoveryCode: code }, 1, { keys, authKey: await x25519GenerateKeyPair() });
    const reg = await s.request<TokenResponse>("POST", "/v1/clients", { json: body });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const t: Device = { ...d, token: reg.body.token };
    expect((await uploadKeyPackages(s, t, [{ message: kp.message } as never])).status).toBe(201);

    const ma = await createGroup(s, a, { config });
    const g = ma.group.groupId;
    expect((await s.request("POST", `/v1/users/${user}/key-packages/claim`, { token: a.token, json: { cipherSuites: [1] } })).status).toBe(200);
    const add = await ma.group.createCommit({ add: [kp.message] });
    expect((await commit(s, ma, add)).status).toBe(202);
    const tree = await s.request<GroupTreeResponse>("GET", `${groupPath(g, "/tree")}?epoch=1`, { token: t.token });
    expect(tree.status).toBe(200);
    const ts = await TsMember.join(1, add.welcome!, kp, fromBase64Url(tree.body.tree));
    expect(ts.epoch).toBe(1n);

    // ts-mls commits (a path update) as PublicMessage; the DS checks it and its GroupInfo, then our member applies it.
    const c = await ts.commit({ publicMessage: true });
    const accepted = await postBundle(s, t, g, { commit: c.commit, groupInfo: await ts.groupInfo() });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const r = await ma.group.processMessage(c.commit);
    if (r.kind !== "commit") throw new Error(`expected a commit, got ${r.kind}`);
    ma.group.mergeStagedCommit(r.staged);
    expect(Buffer.from(ma.group.epochAuthenticator).toString("hex")).toBe(Buffer.from(ts.epochAuthenticator).toString("hex"));

    const fromTs = await ts.send(utf8("from ts-mls"));
    expect((await postMessage(s, t, g, fromTs)).status).toBe(202);
    const got = await ma.group.processMessage(fromTs);
    expect(got.kind === "application" && new TextDecoder().decode(got.data)).toBe("from ts-mls");
    const fromUs = await ma.group.encryptApplicationMessage(utf8("from conclave"));
    expect((await postMessage(s, a, g, fromUs)).status).toBe(202);
    const back = await ts.receive(fromUs);
    expect(back.kind === "application" && new TextDecoder().decode(back.data)).toBe("from conclave");
  });
});
