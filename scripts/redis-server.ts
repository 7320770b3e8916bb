/**
 * A throw-away Redis for tests and the benchmark: the system's `redis-server` (scripts/setup-system.sh
 * installs it) on a free loopback port, with a temp directory of its own and no persistence, so a restart
 * comes back empty. It can be killed hard and restarted on the same port, which is how the challenge-store
 * tests play "Redis went away". Whatever happens to the caller, the server goes with this process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const READY_LINE = /Ready to accept connections/;
/** A port another process grabbed between our probe and redis-server's bind: try another one. */
const MAX_PORT_ATTEMPTS = 5;

export interface RedisServer {
  url: string;
  port: number;
  readonly pid: number | undefined;
  /** SIGKILL, as a crash or a pulled cable looks to clients; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was saved). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Starts redis-server and waits for its "ready" line; rejects with its output if it exits first. */
function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no"];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let output = "";
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (READY_LINE.test(output)) {
        child.stdout?.off("data", onOutput);
        child.stderr?.off("data", onOutput);
        child.off("exit", onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${output.slice(-2000)}`));
    child.stdout?.on("data", onOutput);
    child.stderr?.on("data", onOutput);
    child.once("exit", onExit);
    child.once("error", reject);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startRedisServer(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "yzt-redis-"));
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; !child; attempt++) {
    port = await freePort();
    child = await launch(port, dir).catch((error: unknown) => {
      if (attempt + 1 >= MAX_PORT_ATTEMPTS) throw error;
      return undefined;
    });
  }
  // Never outlive the process that started it (a test worker that crashed included).
  const killOnExit = () => child?.kill("SIGKILL");
  process.once("exit", killOnExit);
  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    if (!running) return;
    running.kill(signal);
    await exited(running);
    child = undefined;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    kill: () => halt("SIGKILL"),
    restart: async () => {
      await halt("SIGKILL");
      child = await launch(port, dir);
    },
    stop: async () => {
      await halt("SIGTERM");
      process.off("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
