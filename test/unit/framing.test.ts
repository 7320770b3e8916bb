import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, type Decoded } from "../../native-host/transport/framing.js";

const messages = (decoded: Decoded[]) => decoded.map((d) => (d.kind === "message" ? d.value : d.error.code));

describe("stdio framing", () => {
  it("round-trips a message through a little-endian length prefix", () => {
    const frame = encodeFrame({ id: 1, method: "hello", text: "一证通" });
    expect(frame.readUInt32LE(0)).toBe(frame.length - 4);
    expect(messages(new FrameDecoder(1024).push(frame))).toEqual([{ id: 1, method: "hello", text: "一证通" }]);
  });

  it("reassembles a frame delivered one byte at a time", () => {
    const decoder = new FrameDecoder(1024);
    const frame = encodeFrame({ id: 7, params: { data: "x".repeat(300) } });
    const out: Decoded[] = [];
    for (const byte of frame) out.push(...decoder.push(Buffer.from([byte])));
    expect(messages(out)).toEqual([{ id: 7, params: { data: "x".repeat(300) } }]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it("decodes several frames from one chunk, in order", () => {
    const chunk = Buffer.concat([encodeFrame({ id: 1 }), encodeFrame({ id: 2 }), encodeFrame({ id: 3 })]);
    expect(messages(new FrameDecoder(1024).push(chunk))).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  });

  it("reports invalid JSON as BAD_REQUEST and keeps decoding the next frame", () => {
    const bad = Buffer.alloc(4 + 5);
    bad.writeUInt32LE(5, 0);
    bad.write("{nope", 4);
    const out = new FrameDecoder(1024).push(Buffer.concat([bad, encodeFrame({ id: 9 })]));
    expect(messages(out)).toEqual(["BAD_REQUEST", { id: 9 }]);
  });

  it("rejects invalid UTF-8 instead of guessing", () => {
    const body = Buffer.from([0x22, 0xff, 0xfe, 0x22]);
    const frame = Buffer.concat([Buffer.from([4, 0, 0, 0]), body]);
    expect(messages(new FrameDecoder(1024).push(frame))).toEqual(["BAD_REQUEST"]);
  });

  it("skips an oversize frame across chunks without buffering it, then resynchronises", () => {
    const decoder = new FrameDecoder(64);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(1000, 0);
    const first = decoder.push(Buffer.concat([header, Buffer.alloc(100, 0x41)]));
    expect(messages(first)).toEqual(["BAD_REQUEST"]);
    expect(decoder.pendingBytes).toBe(0);
    expect(decoder.push(Buffer.alloc(500, 0x41))).toEqual([]);
    const rest = decoder.push(Buffer.concat([Buffer.alloc(400, 0x41), encodeFrame({ id: 5 })]));
    expect(messages(rest)).toEqual([{ id: 5 }]);
  });

  it("waits for the rest of a split header", () => {
    const decoder = new FrameDecoder(1024);
    const frame = encodeFrame({ id: 3 });
    expect(decoder.push(frame.subarray(0, 2))).toEqual([]);
    expect(messages(decoder.push(frame.subarray(2)))).toEqual([{ id: 3 }]);
  });
});
