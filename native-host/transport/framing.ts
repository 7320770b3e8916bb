/**
 * Native-messaging stdio framing: each message is a uint32 little-endian byte length followed by that many
 * bytes of UTF-8 JSON. The decoder copes with frames split across chunks and several frames in one chunk,
 * and it stays in sync after bad input: an oversize frame is skipped byte for byte and reported once,
 * invalid JSON is reported, and the next frame decodes normally.
 */
import { badRequest, type YztError } from "../../protocol/errors.js";

const HEADER_BYTES = 4;

export type Decoded = { kind: "message"; value: unknown } | { kind: "error"; error: YztError };

export class FrameDecoder {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  /** Bytes of an oversize frame still to be thrown away. */
  private skipping = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Feeds a chunk of stdin; returns every complete frame it finished. */
  push(chunk: Buffer): Decoded[] {
    const out: Decoded[] = [];
    let input = chunk;
    if (this.skipping > 0) {
      const dropped = Math.min(this.skipping, input.length);
      this.skipping -= dropped;
      input = input.subarray(dropped);
    }
    if (input.length > 0) {
      this.buffered.push(input);
      this.bufferedBytes += input.length;
    }
    for (;;) {
      if (this.skipping > 0 || this.bufferedBytes < HEADER_BYTES) break;
      const length = this.peekLength();
      if (length > this.maxFrameBytes) {
        this.take(HEADER_BYTES);
        out.push({ kind: "error", error: badRequest(`frame of ${length} bytes exceeds the ${this.maxFrameBytes}-byte limit`) });
        const available = Math.min(length, this.bufferedBytes);
        this.take(available);
        this.skipping = length - available;
        continue;
      }
      if (this.bufferedBytes < HEADER_BYTES + length) break;
      this.take(HEADER_BYTES);
      out.push(decodeJson(this.take(length)));
    }
    return out;
  }

  /** Bytes held for an incomplete frame (for tests and diagnostics). */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** Reads the length header without joining the whole (possibly huge, still incomplete) frame. */
  private peekLength(): number {
    const first = this.buffered[0]!;
    const head = first.length >= HEADER_BYTES ? first : Buffer.concat(this.buffered).subarray(0, HEADER_BYTES);
    return head.readUInt32LE(0);
  }

  /** Removes and returns the first `count` buffered bytes; joins chunks only once a frame is complete. */
  private take(count: number): Buffer {
    const joined = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    const rest = joined.subarray(count);
    this.buffered = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return joined.subarray(0, count);
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeJson(body: Buffer): Decoded {
  try {
    return { kind: "message", value: JSON.parse(utf8.decode(body)) as unknown };
  } catch {
    return { kind: "error", error: badRequest("frame is not valid UTF-8 JSON") };
  }
}

/** `replacer` is JSON.stringify's (the driver wire turns bytes into base64 with one). */
export function encodeFrame(message: unknown, replacer?: (key: string, value: unknown) => unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message, replacer), "utf8");
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32LE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}
