// An SDK round trip over a real DS/AS: alice and bob register, alice makes a group, adds bob, sends; bob reads.
import { Client, MemoryStore, type ClientEvent } from "@conclave/client";

const serverUrl = process.argv[2];
if (serverUrl === undefined) throw new Error("usage: node sdk.js <server URL>");
const tag = Math.random().toString(36).slice(2, 8);

const alice = await Client.open({ serverUrl, store: new MemoryStore() });
const bob = await Client.open({ serverUrl, store: new MemoryStore() });
await alice.register(`alice-${tag}`, "laptop");
await bob.register(`bob-${tag}`, "phone");

const group = await alice.createGroup();
await alice.addUser(group, bob.user);
const joined = await bob.sync();
await alice.send(group, "hello from the packed SDK");
const events: ClientEvent[] = [...joined, ...(await bob.sync())];
const lines = events.map((e) => (e.type === "message" ? `message ${e.text}` : e.type));
console.log(lines.join("\n"));
console.log(`safety ${alice.safetyNumber(group) === bob.safetyNumber(group) ? "match" : "differ"}`);
