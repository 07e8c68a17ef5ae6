/**
 * Untimed set-up over the public HTTP API, with the helpers the server's own
 * tests use (so the bench follows the API as it changes): devices registered
 * through the AS (invites from the admin route), groups created, members
 * added by one commit bundle whose Welcome names a KeyPackage each uploaded
 * and the creator claimed.
 */
import { toBase64Url, type AcceptedResponse, type ClaimKeyPackagesResponse } from "@conclave/api";
import { commitMessage, keyPackageOf, unb64, uploadKeyPackages, welcomeFor, applicationMessage } from "../../packages/server/test/ds-support.js";
import { remote } from "../../packages/server/test/support/child.js";
import { registerDevice, type Device, type RunningServer } from "../../packages/server/test/support/server.js";

export type { Device };

async function inBatches<T, R>(items: readonly T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

export class BenchApi {
  readonly s: RunningServer;
  constructor(readonly url: string) {
    this.s = remote(url);
  }

  register(count: number, tag: string): Promise<Device[]> {
    return inBatches(
      Array.from({ length: count }, (_, i) => i),
      16,
      (i) => registerDevice(this.s, `${tag}${i}`, "d"),
    );
  }

  /** A group of `members` (the first creates it) at epoch 1; returns its id. */
  async group(members: readonly Device[], name: string): Promise<Uint8Array> {
    const g = new TextEncoder().encode(name);
    const [creator, ...others] = members;
    if (creator === undefined) throw new Error("a group needs a member");
    const created = await this.s.request("POST", "/v1/groups", { token: creator.token, json: { groupId: toBase64Url(g) } });
    if (created.status !== 201) throw new Error(`create group: ${created.status} ${JSON.stringify(created.body)}`);
    await inBatches(others, 16, async (d) => {
      const r = await uploadKeyPackages(this.s, d, [await keyPackageOf(d)]);
      if (r.status !== 201) throw new Error(`upload KeyPackage: ${r.status} ${JSON.stringify(r.body)}`);
    });
    const refs = await inBatches(others, 16, async (d) => {
      const c = await this.s.request<ClaimKeyPackagesResponse>("POST", `/v1/users/${d.user}/key-packages/claim`, { token: creator.token, json: { cipherSuites: [d.cipherSuite] } });
      const kp = c.body.keyPackages[0];
      if (c.status !== 200 || kp === undefined) throw new Error(`claim: ${c.status} ${JSON.stringify(c.body)}`);
      return unb64(kp.ref);
    });
    const body = { commit: toBase64Url(commitMessage(g, 0n)), ...(refs.length > 0 ? { welcome: toBase64Url(welcomeFor(refs)) } : {}) };
    const r = await this.s.request<AcceptedResponse>("POST", `/v1/groups/${toBase64Url(g)}/commits`, { token: creator.token, json: body });
    if (r.status !== 202) throw new Error(`commit bundle: ${r.status} ${JSON.stringify(r.body)}`);
    return g;
  }

  /** Posts one message as `sender` and returns the DS's answer (how many members it was made available to). */
  async post(sender: Device, g: Uint8Array, message: Uint8Array): Promise<AcceptedResponse> {
    const r = await this.s.request<AcceptedResponse>("POST", messagesPath(g), { token: sender.token, headers: { "content-type": "message/mls" }, body: Buffer.from(message) });
    if (r.status !== 202) throw new Error(`post: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

export function messagesPath(g: Uint8Array): string {
  return `/v1/groups/${toBase64Url(g)}/messages`;
}

/** A PrivateMessage application message of `bytes` ciphertext bytes at epoch 1; the last 4 carry `seq`. */
export function benchMessage(g: Uint8Array, bytes: number, seq = 0): Uint8Array {
  const ct = new Uint8Array(bytes).fill(0x5a);
  new DataView(ct.buffer).setUint32(bytes - 4, seq);
  return applicationMessage(g, 1n, ct);
}
