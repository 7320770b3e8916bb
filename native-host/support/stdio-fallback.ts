/**
 * Node's process.stdin / stdout / stderr, made safe where libuv cannot open them: under Wine, creating the
 * stream for a pipe throws EBADF (DESIGN.md, "Platform facts"), and it throws from the property getter, so
 * even `import * as process from "node:process"` in a dependency (it reads every property) fails. Each getter
 * is wrapped once: when Node's own stream cannot be made, a stand-in on the same descriptor takes its place
 * (writes through fs.writeSync, reads through an fs read stream), which work on those pipes.
 *
 * The entry points install this before they load anything else (a dynamic import after it), because Node
 * reads the process object when it loads an ES module graph, before any of it runs.
 */
import { createReadStream, writeSync } from "node:fs";
import { Writable, type Readable } from "node:stream";

type StdioName = "stdin" | "stdout" | "stderr";
const DESCRIPTORS: Record<StdioName, number> = { stdin: 0, stdout: 1, stderr: 2 };

function standIn(name: StdioName): Readable | Writable {
  const fd = DESCRIPTORS[name];
  if (name === "stdin") return createReadStream("", { fd, autoClose: false });
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      try {
        writeSync(fd, chunk);
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  });
}

export function installStdioFallback(): void {
  for (const name of Object.keys(DESCRIPTORS) as StdioName[]) {
    const original = Object.getOwnPropertyDescriptor(process, name);
    if (!original?.get || !original.configurable) continue;
    let stream: Readable | Writable | undefined;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: original.enumerable ?? true,
      get() {
        if (stream === undefined) {
          try {
            stream = original.get!.call(process) as Readable | Writable;
          } catch {
            stream = standIn(name);
          }
        }
        return stream;
      },
    });
  }
}
