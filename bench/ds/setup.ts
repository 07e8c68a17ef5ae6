/**
 * Untimed set-up over the public HTTP API, with the helpers the server's own
 * tests use (so the bench follows the API as it changes): devices registered
 * through the AS (invites from the admin route), real MLS groups created
 * (the DS validates every handshake, issue 17), members added by one commit
 * bundle whose Welcome names a KeyPackage each uploaded and the creator claimed.
 */
import { toBase64Url, type AcceptedResponse, type ClaimKeyPackagesResponse } from "@conclave/api";
import { uploadKeyPackages, applicationMessage } from "../../packages/server/test/ds-support.js";
import { commit, createGroup, memberKeyPackage, mlsConfigFor } from "../../packages/server/test/support/mlsGroup.js";
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

  /**
   * A real MLS group of `members` (the first creates it from its epoch-0 GroupInfo) at epoch 1,
   * the others added by one validated commit; returns its id. The joiners never process the
   * Welcome: the bench only needs the DS's roster. (`name` is kept for the callers; the group
   * id is the MLS group's own.)
   */
  async group(members: readonly Device[], _name: string): Promise<Uint8Array> {
    const [creator, ...others] = members;
    if (creator === undefined) throw new Error("a group needs a member");
    const m = await createGroup(this.s, creator);
    const now = mlsConfigFor(this.s).clock!();
    const kps = await inBatches(others, 16, async (d) => {
      const kp = await memberKeyPackage(d, now);
      const r = await uploadKeyPackages(this.s, d, [kp]);
      if (r.status !== 201) throw new Error(`upload KeyPackage: ${r.status} ${JSON.stringify(r.body)}`);
      return kp;
    });
    await inBatches(others, 16, async (d) => {
      const c = await this.s.request<ClaimKeyPackagesResponse>("POST", `/v1/users/${d.user}/key-packages/claim`, { token: creator.token, json: { cipherSuites: [d.cipherSuite] } });
      if (c.status !== 200 || c.body.keyPackages[0] === undefined) throw new Error(`claim: ${c.status} ${JSON.stringify(c.body)}`);
    });
    const pending = await m.group.createCommit({ add: kps.map((k) => k.message) });
    const r = await commit(this.s, m, pending);
    if (r.status !== 202) throw new Error(`commit bundle: ${r.status} ${JSON.stringify(r.body)}`);
    return m.group.groupId;
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
