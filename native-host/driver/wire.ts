/**
 * The protocol between the host and a driver process (driver/child.ts), which runs one key library. It is the
 * device seam (device.ts) put on a wire, as p11-kit's remote modules put PKCS#11 on one: the host asks for
 * the seam's calls, the driver answers and pushes what its library sees. Frames are the native-messaging
 * framing (transport/framing.ts), read and written on file descriptors as the host's own stdio is (Windows,
 * Wine). Bytes travel as base64 in `{ "$bytes": "…" }`.
 *
 * Both ends validate every frame: a driver that answers garbage is treated as a crashed driver (the host kills
 * it), and a host request the driver cannot read is answered with an error, never acted on.
 */
import { YztError, type ErrorBody } from "../../protocol/errors.js";
import { array, boolean, integer, literal, object, optional, string, type Infer, type Schema } from "../../protocol/validate.js";
import type { PinReading, PresentKey } from "../token/device.js";

/**
 * The driver's frames go to the host on its file descriptor 3, not its stdout: vendor libraries print debug
 * output to stdout, which the host passes on to its own stderr (the browser's log) instead of reading it as
 * frames. The host's requests come on the driver's stdin.
 */
export const DRIVER_FRAMES_FD = 3;

/** Largest frame either end accepts: a signing input, an envelope or a certificate list, with room to spare. */
export const MAX_DRIVER_FRAME_BYTES = 48 * 1024 * 1024;

/** Calls on the library as a whole. */
export const LIBRARY_CALLS = ["ping"] as const;
/** Calls on one key: the KeyDevice methods, plus the PIN counter read for a status request. */
export const DEVICE_CALLS = [
  "pinReading", "readCertificates", "login", "logout", "closeKey", "sign", "decrypt", "openEnvelope", "changePin", "unlock",
  "containers", "generateKeyPair", "importCertificate", "importEncryptionKeyPair", "deleteContainer",
] as const;

export type LibraryCall = (typeof LIBRARY_CALLS)[number];
export type DeviceCall = (typeof DEVICE_CALLS)[number];
export type DriverCall = LibraryCall | DeviceCall;

/** Which key a device call is for: its serial and the generation the driver gave it (see child.ts). */
export interface KeyRef {
  serial: string;
  generation: number;
}

export interface DriverRequest {
  id: number;
  call: DriverCall;
  key?: KeyRef;
  args?: unknown;
}

/** A key as the driver lists it: PresentKey, its generation, and whether it opens envelopes inside. */
export interface WireKey extends PresentKey {
  generation: number;
  opensEnvelopes: boolean;
  /** The PIN counter as read when the key was opened; null when it could not be read. */
  pin: PinReading | null;
}

/** What the driver pushes: once its library is loaded (or failed), and after every look that changed something. */
export type DriverEvent =
  | { event: "loaded"; error: string | null; manufacturer?: string; description?: string }
  | { event: "keys"; keys: WireKey[]; scanError: ErrorBody | null };

export interface DriverReply {
  id: number;
  result?: unknown;
  error?: ErrorBody;
  /** The key's PIN counter after a device call, so the host never asks again for what it just changed. */
  pin?: PinReading;
}

// ---- bytes in JSON ----

/** JSON.stringify replacer: Uint8Array (and Buffer) → `{ $bytes: base64 }`. */
export function encodeBytes(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  // Buffer's own toJSON runs before the replacer sees it.
  if (typeof value === "object" && value !== null && (value as { type?: unknown }).type === "Buffer" && Array.isArray((value as { data?: unknown }).data)) {
    return { $bytes: Buffer.from((value as { data: number[] }).data).toString("base64") };
  }
  return value;
}

/** Deep copy of a decoded frame with every `{ $bytes }` turned back into a Uint8Array. */
export function decodeBytes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeBytes);
  if (typeof value !== "object" || value === null) return value;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  if (keys.length === 1 && keys[0] === "$bytes") {
    if (typeof record.$bytes !== "string") throw new YztError("HOST_ERROR", "malformed bytes in a driver frame");
    return new Uint8Array(Buffer.from(record.$bytes, "base64"));
  }
  const copy: Record<string, unknown> = {};
  for (const key of keys) copy[key] = decodeBytes(record[key]);
  return copy;
}

// ---- schemas ----

const bytes: Schema<Uint8Array> = {
  parse(value, path = "value") {
    if (!(value instanceof Uint8Array)) throw new YztError("BAD_REQUEST", `${path}: expected bytes`);
    return value;
  },
};

const text = string({ max: 4096 });

function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return { parse: (value, path) => (value === null ? null : inner.parse(value, path)) };
}
const keyRef = object({ serial: string({ min: 1, max: 256 }), generation: integer(0, Number.MAX_SAFE_INTEGER) });

const requestSchema = object({
  id: integer(1, Number.MAX_SAFE_INTEGER),
  call: literal<DriverCall>(...LIBRARY_CALLS, ...DEVICE_CALLS),
  key: optional(keyRef),
  args: optional({ parse: (value) => value }),
});

const errorBody: Schema<ErrorBody> = {
  parse(value, path = "error") {
    const rebuilt = YztError.fromBody(value);
    if (rebuilt.code === "HOST_ERROR" && rebuilt.message === "malformed error from the native host") throw new YztError("BAD_REQUEST", `${path}: not an error body`);
    return rebuilt.toJSON();
  },
};

export const pinReadingSchema: Schema<PinReading> = object({
  retriesLeft: nullable(integer(0, 1_000_000)),
  countLow: boolean(),
  finalTry: boolean(),
  locked: boolean(),
  mustChange: boolean(),
});

const wireKey: Schema<WireKey> = object({
  serial: string({ min: 1, max: 256 }),
  label: text,
  manufacturer: text,
  model: text,
  generation: integer(0, Number.MAX_SAFE_INTEGER),
  opensEnvelopes: boolean(),
  pin: nullable(pinReadingSchema),
});

const eventSchema: Schema<DriverEvent> = {
  parse(value) {
    const kind = literal("loaded", "keys").parse(typeof value === "object" && value !== null ? (value as { event?: unknown }).event : undefined, "event");
    if (kind === "loaded") {
      return object({ event: literal("loaded"), error: nullable(text), manufacturer: optional(text), description: optional(text) }).parse(value);
    }
    return object({ event: literal("keys"), keys: array(wireKey, 1000), scanError: nullable(errorBody) }).parse(value);
  },
};

const replySchema = object({
  id: integer(1, Number.MAX_SAFE_INTEGER),
  result: optional({ parse: (value) => value }),
  error: optional(errorBody),
  pin: optional(pinReadingSchema),
});

export type DriverFrame = { kind: "reply"; reply: Infer<typeof replySchema> } | { kind: "event"; event: DriverEvent };

/** A frame from a driver; throws (the host then kills the driver) on anything else. */
export function parseDriverFrame(value: unknown): DriverFrame {
  const decoded = decodeBytes(value);
  if (typeof decoded === "object" && decoded !== null && "event" in decoded) return { kind: "event", event: eventSchema.parse(decoded) };
  return { kind: "reply", reply: replySchema.parse(decoded, "reply") };
}

/** A request from the host; throws BAD_REQUEST naming the field. */
export function parseDriverRequest(value: unknown): DriverRequest {
  return requestSchema.parse(decodeBytes(value), "request");
}

// ---- results, checked per call on the host side ----

export const certificateListSchema = array(object({ keyId: string({ min: 1, max: 256 }), der: bytes }), 1000);
export const bytesSchema = bytes;
const containerName = string({ min: 1, max: 128 });
const generatedAlgorithm = literal("SM2", "RSA");
export const containerListSchema = array(
  object({
    name: string({ max: 256 }),
    keyAlgorithm: nullable(generatedAlgorithm),
    signKeyId: nullable(string({ min: 1, max: 256 })),
    encryptKeyId: nullable(string({ min: 1, max: 256 })),
    signPublicKey: nullable(bytes),
    encryptPublicKey: nullable(bytes),
    signCertificate: nullable(bytes),
    encryptCertificate: nullable(bytes),
  }),
  256,
);

/** Validates the argument shapes of device calls on the driver side. */
export const deviceArgs = {
  login: object({ pin: string({ max: 64 }) }),
  /** `certificate`: on a key id's first signature through a driver, and when it changed (remote-device.ts). */
  sign: object({
    keyId: string({ min: 1, max: 256 }),
    certificate: optional(bytes),
    /** A key with no certificate yet (a certificate request): its algorithm and public point instead. */
    bareKey: optional(object({ keyAlgorithm: literal("RSA", "EC", "SM2"), publicKeyPoint: optional(bytes) })),
    via: literal("digest", "message"),
    input: bytes,
    sm2Id: optional(string({ max: 1024 })),
  }),
  decrypt: object({ keyId: string({ min: 1, max: 256 }), keyAlgorithm: literal("RSA", "EC", "SM2"), ciphertext: bytes }),
  openEnvelope: object({
    keyId: string({ min: 1, max: 256 }),
    keyAlgorithm: literal("RSA", "EC", "SM2"),
    wrappedKey: bytes,
    content: object({ cipherOid: string({ max: 256 }), cipher: nullable(literal("SM4-CBC", "3DES-CBC")), iv: bytes, encrypted: bytes }),
  }),
  changePin: object({ oldPin: string({ max: 64 }), newPin: string({ max: 64 }) }),
  unlock: object({ adminPin: string({ max: 64 }), newPin: string({ max: 64 }) }),
  generateKeyPair: object({ container: containerName, keyAlgorithm: generatedAlgorithm }),
  importCertificate: object({ container: containerName, purpose: literal("sign", "encrypt"), der: bytes }),
  importEncryptionKeyPair: object({ container: containerName, pair: object({ blob: bytes, publicKey: bytes }) }),
  deleteContainer: object({ container: containerName }),
};
