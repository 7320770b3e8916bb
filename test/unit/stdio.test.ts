/**
 * The host's stdio on file descriptors (native-host/transport/stdio.ts), over a FIFO opened non-blocking at
 * both ends: a full pipe (EAGAIN on write) and an empty one (EAGAIN on read) only delay the bytes, which
 * arrive whole and in order; the writer reports when all is written, and closing it ends the reader once.
 */
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FdReader, FdWriter, openInput, StreamReader, type ReaderEvents } from "../../native-host/transport/stdio.js";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function nonBlockingFifo(): { read: number; write: number } {
  dir = mkdtempSync(join(tmpdir(), "yzt-stdio-"));
  const path = join(dir, "pipe");
  execFileSync("mkfifo", [path]);
  const read = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const write = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  return { read, write };
}

describe("stdio on file descriptors", () => {
  it.each([
    ["FdReader (Windows)", FdReader],
    ["StreamReader", StreamReader],
    ["openInput: FdReader for the first chunk, then a stream (Linux, macOS)", class { constructor(readonly fd: number, readonly events: ReaderEvents) {} start() { openInput(this.fd, this.events, "linux").start(); } }],
  ])("carries 4 MiB of frames through a 64 KiB pipe in order, waiting out EAGAIN at both ends, then ends once: %s", async (_name, Reader) => {
    const { read, write } = nonBlockingFifo();
    const frames = Array.from({ length: 256 }, (_, i) => Buffer.alloc(16 * 1024, i % 251));
    const expected = Buffer.concat(frames);
    const received: Buffer[] = [];
    let ends = 0;
    const ended = new Promise<Error | undefined>((resolve) => {
      new Reader(read, { data: (chunk) => received.push(chunk), end: (error) => { ends++; resolve(error); } }).start();
    });
    const writer = new FdWriter(write);
    for (const frame of frames) writer.write(frame);
    expect(writer.pendingBytes).toBeGreaterThan(0); // the pipe could not take it all at once
    await writer.flushed();
    expect(writer.pendingBytes).toBe(0);
    closeSync(write);
    expect(await ended).toBeUndefined();
    if (Reader === FdReader) closeSync(read); // a stream closes its own descriptor at the end
    expect(ends).toBe(1);
    expect(Buffer.concat(received).equals(expected)).toBe(true);
  }, 20_000);

  it("drops what it cannot deliver once the reader is gone, and still reports flushed", async () => {
    const { read, write } = nonBlockingFifo();
    closeSync(read);
    const writer = new FdWriter(write);
    writer.write(Buffer.from("lost"));
    await writer.flushed();
    expect(writer.pendingBytes).toBe(0);
    closeSync(write);
  });
});
