/**
 * A driver process: one key library (a vendor's SKF or PKCS#11 library, or the virtual ones) loaded through
 * the in-process adapters (token/pkcs11, token/skf), served to the host over wire.ts. Vendor code is code we
 * do not control (DESIGN.md): here a segfault, a hang or a library that never lets go of the process costs only
 * this library's keys, and the host kills and restarts the driver.
 *
 * The driver watches its own library (the adapter's events or a poll) and pushes the present keys; each key
 * carries a generation, new whenever the key was opened afresh (inserted, or pulled and put back between two
 * looks), so a call made for an older generation fails TOKEN_REMOVED instead of reaching another session.
 * Sessions, grants, the per-key queue and PIN rules stay in the host: the driver only does what it is asked.
 *
 * It exits when the host closes its stdin or asks it to stop. It imports the token layer's adapters and the
 * transport's framing and stdio; nothing imports it but the program entries.
 */
import { YztError, type ErrorBody } from "../../protocol/errors.js";
import { signatureAlgorithm, type SigningKey } from "../../crypto/algorithms.js";
import { createLogger } from "../support/log.js";
import type { KeyDevice, KeyLibrary, LibraryCandidate, PinReading, PresentKey, SignerIdentity } from "../token/device.js";
import { loadSkfLibrary } from "../token/skf/library.js";
import { libraryLoader, sm2SettingsFrom } from "../token/setup.js";
import { encodeFrame } from "../transport/framing.js";
import { FdWriter } from "../transport/stdio.js";
import { CONTAINER_WRITES, containerCall } from "./container-calls.js";
import { hostFrames } from "./host-frames.js";
import { candidateFromArgs, candidateFromLoadFrame, isSpareInvocation } from "./launch.js";
import { dieWithHost } from "./orphan-guard.js";
import { framesFdFromEnv } from "./stdio-layout.js";
import { deviceArgs, DRIVER_FRAMES_FD, encodeBytes, parseDriverRequest, type DriverEvent, type DriverReply, type DriverRequest, type WireKey } from "./wire.js";

const DEFAULT_POLL_MS = 100;
/** How long after a call found its key gone the driver lists keys at every poll. */
const LIST_AFTER_REMOVAL_MS = 5_000;

interface OpenKey {
  present: PresentKey;
  generation: number;
  device: KeyDevice;
  /** The PIN counter as read when the key was opened (the host's first TokenInfo needs it). */
  pin: PinReading | null;
  /**
   * The certificate last sent for each key id, parsed once: signing needs the parsed form the adapters take.
   * The host sends a key's certificate only on its first signature through this driver (or when it changed);
   * the entry is set before any await, so a signature asked right behind the first finds it.
   */
  parsed: Map<string, { der: Uint8Array; parsed: Promise<SignerIdentity> }>;
}

/** Calls after which the reply carries the PIN counter. */
const PIN_CALLS = new Set<DriverRequest["call"]>(["pinReading", "login", "changePin", "unlock"]);

function pinOf(device: KeyDevice): PinReading | null {
  try {
    return device.pinReading();
  } catch {
    // The key went away: the next look reports it.
    return null;
  }
}

/** One frame to the host, bytes as base64 (wire.ts). */
function writeFrame(output: FdWriter, message: DriverReply | DriverEvent): void {
  output.write(encodeFrame(message, encodeBytes));
}

class Driver {
  private readonly keys = new Map<string, OpenKey>();
  private generations = 0;
  private scanError: ErrorBody | null = null;
  private lastPushed = "";
  private scanning = false;
  private stopping = false;
  /** Until then every poll lists the keys, whatever the library's events say (see `handle`). */
  private listAnywayUntil = 0;

  constructor(private readonly library: KeyLibrary, private readonly output: FdWriter) {}

  start(pollIntervalMs: number): void {
    this.scan(true);
    setInterval(() => this.scan(false, Date.now() < this.listAnywayUntil), pollIntervalMs);
    this.library.startEvents?.(() => this.scan(false));
  }

  async handle(request: DriverRequest): Promise<void> {
    const reply: DriverReply = { id: request.id };
    const key = request.key ? this.keys.get(request.key.serial) : undefined;
    try {
      if (request.call === "ping") reply.result = "pong";
      else {
        if (!key || key.generation !== request.key!.generation) throw new YztError("TOKEN_REMOVED", `token ${request.key?.serial ?? "?"} was removed`, { tokenSerial: request.key?.serial });
        reply.result = await this.deviceCall(key, request);
      }
    } catch (error) {
      reply.error = YztError.from(error).toJSON();
      // The call found the key gone: the host hears of it before the answer, as it did when it looked itself.
      // The driver keeps listing by itself for a while: a library's own events report changes between two of
      // its looks, and a key put back before it looked again would never be reported as back.
      if (reply.error.code === "TOKEN_REMOVED") {
        this.listAnywayUntil = Date.now() + LIST_AFTER_REMOVAL_MS;
        this.scan(false, true);
      }
    }
    // PIN state after the calls that change it: the host's next status must not need a second round trip.
    if (key && PIN_CALLS.has(request.call)) {
      const pin = pinOf(key.device);
      if (pin) reply.pin = pin;
    }
    this.send(reply);
  }

  private async deviceCall(key: OpenKey, request: DriverRequest): Promise<unknown> {
    const { device } = key;
    // Key ids may name other pairs once containers change: the certificates remembered by id go.
    if (CONTAINER_WRITES.has(request.call)) key.parsed.clear();
    const containerWork = containerCall(device, request);
    if (containerWork) return containerWork;
    switch (request.call) {
      case "pinReading":
        return null;
      case "readCertificates":
        return device.readCertificates();
      case "login":
        return device.login(deviceArgs.login.parse(request.args, "args").pin).then(() => null);
      case "logout":
        device.logout();
        return null;
      case "closeKey":
        device.close();
        return null;
      case "sign":
        return this.sign(key, deviceArgs.sign.parse(request.args, "args"));
      case "decrypt": {
        const args = deviceArgs.decrypt.parse(request.args, "args");
        return device.decrypt(args.keyId, args.keyAlgorithm, args.ciphertext);
      }
      case "openEnvelope": {
        if (!device.openEnvelope) throw new YztError("UNSUPPORTED_ALGORITHM", "this key library does not open envelopes on the key");
        const args = deviceArgs.openEnvelope.parse(request.args, "args");
        return device.openEnvelope(args);
      }
      case "changePin": {
        const args = deviceArgs.changePin.parse(request.args, "args");
        return device.changePin(args.oldPin, args.newPin).then(() => null);
      }
      case "unlock": {
        const args = deviceArgs.unlock.parse(request.args, "args");
        return device.unlock(args.adminPin, args.newPin).then(() => null);
      }
      default:
        throw new YztError("BAD_REQUEST", `unknown driver call ${request.call}`);
    }
  }

  /**
   * One signature through the adapter's SigningKey. "digest" is the mechanism's precomputed input; "message"
   * is SM2 with the signer ID, where the algorithm table prefers the key's own hashing mechanism.
   */
  private async sign(key: OpenKey, args: ReturnType<typeof deviceArgs.sign.parse>): Promise<Uint8Array> {
    const { certificate } = args;
    let known = key.parsed.get(args.keyId);
    if (certificate && (!known || Buffer.compare(known.der, certificate) !== 0)) {
      known = { der: certificate, parsed: import("../../crypto/certificate.js").then(({ parseCertificate }) => parseCertificate(certificate)) };
      key.parsed.set(args.keyId, known);
    }
    if (args.bareKey) {
      // A key pair with no certificate yet signs its own certificate request: its own public key, never a
      // certificate remembered under the same key id (ids can be reused once containers change).
      const bare = args.bareKey;
      known = { der: new Uint8Array(0), parsed: Promise.resolve({ keyAlgorithm: bare.keyAlgorithm, der: new Uint8Array(0), ...(bare.publicKeyPoint ? { publicKeyPoint: bare.publicKeyPoint } : {}) }) };
    }
    if (!known) throw new YztError("BAD_REQUEST", `no certificate was sent for key ${args.keyId} to this driver`);
    const parsed = await known.parsed;
    const signing: SigningKey = key.device.signingKey(args.keyId, parsed);
    if (args.via === "message") return signatureAlgorithm(parsed.keyAlgorithm).signMessage(signing, args.input, args.sm2Id ?? "");
    if (!signing.primitive) throw new YztError("UNSUPPORTED_ALGORITHM", `the token offers no mechanism that signs a precomputed ${parsed.keyAlgorithm} digest`);
    return signing.primitive(args.input);
  }

  /**
   * Looks at the library like the host's watcher did in-process; pushes the keys when they changed. `force`
   * lists the keys whatever the library's events say (a call just found a key gone).
   */
  scan(initial: boolean, force = false): void {
    if (this.scanning || this.stopping) return;
    this.scanning = true;
    try {
      let changed: boolean;
      try {
        changed = this.library.changed() || force;
      } catch {
        changed = true;
      }
      if (!changed && !initial) return;
      let present: PresentKey[];
      try {
        present = this.library.presentKeys();
        this.scanError = null;
      } catch (error) {
        this.scanError = YztError.from(error).toJSON();
        this.push();
        return;
      }
      const seen = new Set(present.map((key) => key.serial));
      for (const [serial, key] of this.keys) {
        // A key pulled and put back between two looks keeps its serial but lost its sessions.
        if (!seen.has(serial) || (!initial && !key.device.sessionAlive())) {
          key.device.close();
          this.keys.delete(serial);
        }
      }
      for (const key of present) {
        if (this.keys.has(key.serial)) continue;
        try {
          const device = this.library.openKey(key);
          this.keys.set(key.serial, { present: key, generation: ++this.generations, device, pin: pinOf(device), parsed: new Map() });
        } catch {
          // Gone again while being opened: the next look decides.
        }
      }
      this.push();
    } finally {
      this.scanning = false;
    }
  }

  private push(): void {
    const keys: WireKey[] = [...this.keys.values()].map(({ present, generation, device, pin }) => ({ ...present, generation, opensEnvelopes: typeof device.openEnvelope === "function", pin }));
    const event: DriverEvent = { event: "keys", keys, scanError: this.scanError };
    const text = JSON.stringify(event);
    if (text === this.lastPushed) return;
    this.lastPushed = text;
    this.send(event);
  }

  /** The host is gone or asked the driver to end: sessions end, then the library is finalised. */
  stop(): void {
    this.stopping = true;
    for (const key of this.keys.values()) key.device.close();
    this.keys.clear();
    this.library.close();
  }

  send(message: DriverReply | DriverEvent): void {
    writeFrame(this.output, message);
  }
}

/**
 * The driver program: `<entry> --yzt-driver <kind> <source> <path>` (launch.ts builds the command), or
 * `<entry> --yzt-driver spare`, told its library in its first frame (spare.ts).
 */
export async function runDriver(argv: string[]): Promise<void> {
  dieWithHost();
  const logger = createLogger();
  const output = new FdWriter(framesFdFromEnv(process.env, DRIVER_FRAMES_FD));
  const frames = hostFrames(logger);
  const candidate: LibraryCandidate = isSpareInvocation(argv) ? candidateFromLoadFrame(await frames.first()) : candidateFromArgs(argv);
  // An SKF driver never loads the PKCS#11 binding (graphene, pkcs11js): its start and its memory are spared.
  const loader = candidate.kind === "skf" ? loadSkfLibrary : await libraryLoader(sm2SettingsFrom(process.env));
  // Loading runs the library's own initialisation (C_Initialize, DllMain): the first place vendor code runs.
  const library = loader(candidate);
  writeFrame(output, { event: "loaded", error: library.error, ...(library.manufacturer ? { manufacturer: library.manufacturer } : {}), ...(library.description ? { description: library.description } : {}) });
  if (library.error !== null) {
    await output.flushed();
    process.exit(0);
  }
  const driver = new Driver(library, output);
  frames.serve(
    (value) => {
      let request: DriverRequest;
      try {
        request = parseDriverRequest(value);
      } catch (error) {
        const id = (value as { id?: unknown } | null)?.id;
        if (Number.isSafeInteger(id) && (id as number) > 0) driver.send({ id: id as number, error: YztError.from(error, "BAD_REQUEST").toJSON() });
        return;
      }
      void driver.handle(request);
    },
    // Closing the library first lets it end its sessions.
    () => {
      try {
        driver.stop();
      } finally {
        process.exit(0);
      }
    },
  );
  const pollMs = Number(process.env.YZT_POLL_MS);
  driver.start(Number.isFinite(pollMs) && pollMs > 0 ? pollMs : DEFAULT_POLL_MS);
}
