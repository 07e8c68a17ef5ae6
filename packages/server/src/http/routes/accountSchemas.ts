/** JSON Schemas of the account, device and authentication routes (shapes: @conclave/api accounts.ts). */
import { b64u, cipherSuite, clientInfo, deviceId, object, queryInteger, userName, type JsonSchema } from "../schemas.js";

const time = (description: string): JsonSchema => ({ type: "integer", minimum: 0, description: `${description} (ms since the Unix epoch)` });
const x25519Key = (description: string): JsonSchema => b64u(64, `${description} (32-byte X25519 public key)`);
const signatureKey = b64u(256, "signature public key (RFC 9420 §5.1.1 form)");
const recoveryCode: JsonSchema = { type: "string", minLength: 1, maxLength: 64, description: "the account's recovery code" };

const nameProof: JsonSchema = {
  oneOf: [
    object({ kind: { type: "string", const: "invite" }, token: { type: "string", minLength: 1, maxLength: 128 } }),
    object({ kind: { type: "string", const: "oidc" }, idToken: { type: "string", minLength: 1, maxLength: 16384 } }),
    object({ kind: { type: "string", const: "none" } }),
  ],
  description: "proof of the right to the user name (the server's configured verifier decides which kind it accepts)",
};

export const createAccountRequest = object({ user: userName, proof: nameProof });
export const createAccountResponse = object({
  user: userName,
  identity: { type: "string" },
  recoveryCode: { type: "string", description: "shown once: registers the first device, recovers the account" },
  createdAt: time("creation time"),
  unusedExpiresAt: time("the account expires unless a device registers before"),
});

export const challengeResponse = object({
  nonce: b64u(64, "32-byte single-use nonce"),
  expiresAt: time("expiry"),
  domain: { type: "string", description: "server domain (HandshakeTranscript.domain)" },
  serverKey: x25519Key("server static key S_s"),
  serverEphemeral: x25519Key("this challenge's key E_s"),
});

const handshake = {
  nonce: b64u(64, "challenge nonce"),
  clientEphemeral: x25519Key("client ephemeral key e_c"),
  mac: b64u(64, "HMAC-SHA-256 over the HandshakeTranscript"),
};

const authorization: JsonSchema = {
  oneOf: [object({ kind: { type: "string", const: "recovery" }, recoveryCode }), object({ kind: { type: "string", const: "approval" } })],
  description: "what lets the device into the account: the recovery code, or an approval by an existing device",
};

export const registerClientRequest = object({
  user: userName,
  device: deviceId,
  cipherSuite,
  signatureKey,
  authKey: x25519Key("the device's auth key A_c"),
  ...handshake,
  signature: b64u(256, 'SignWithLabel(sk, "Conclave auth", nonce || AuthContext)'),
  authorization,
});

export const loginRequest = object({ user: userName, device: deviceId, ...handshake });

export const upgradeClientRequest = object({
  user: userName,
  device: deviceId,
  authKey: x25519Key("the auth key A_c to bind"),
  ...handshake,
  signature: b64u(256, 'SignWithLabel(sk, "Conclave auth", nonce || AuthContext{purpose: upgrade}) by the registered signature key'),
});
export const upgradeClientResponse = object(
  {
    token: { type: "string", description: "bearer token" },
    expiresAt: time("token expiry"),
    client: clientInfo,
    recoveryCode: { type: "string", description: "the account's first recovery code, when it had none: shown once" },
  },
  ["token", "expiresAt", "client"],
);

export const deviceApprovalRequest = object({
  device: deviceId,
  cipherSuite,
  signatureKey,
  authKey: x25519Key("the new device's auth key"),
  signature: b64u(256, 'SignWithLabel(approver_sk, "Conclave device approval", DeviceApprovalTBS)'),
});
export const deviceApprovalResponse = object({ approvedBy: { type: "string" }, expiresAt: time("the new device must register before") });

export const recoveryRevokeRequest = object({ recoveryCode });
export const rotateRecoveryCodeResponse = object({ recoveryCode: { type: "string" } });

export const deviceChangesQuery = object({ after: queryInteger("last seen seq (0 for all)") }, []);
export const deviceChangesResponse = object({
  changes: {
    type: "array",
    items: object({
      seq: { type: "integer", minimum: 1 },
      kind: { type: "string", enum: ["added", "revoked"] },
      device: deviceId,
      signatureKey,
      by: { type: "string", description: '"device:<id>" or "recovery"' },
      at: time("time of the change"),
      logIndex: { type: "integer", minimum: 0, description: "the change's leaf in the transparency log" },
    }),
  },
});

export const createInviteResponse = object({ token: { type: "string" }, expiresAt: time("expiry") });
