/**
 * A Wine prefix for the Windows package tests: commands with a time limit, registry reads, paths on drive C,
 * and the installed host started exactly as Chrome starts it on Windows (cmd.exe /d /s /c with the launcher
 * quoted, the caller's origin and --parent-window), talked to over native-messaging frames.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrame, FrameDecoder } from "../../native-host/transport/framing.js";

/** One Wine call (install, query, uninstall): generous for a loaded CI machine, finite. */
export const WINE_CALL_MS = 120_000;

/** Wine (64- and 32-bit) and the mingw-w64 cross compilers, installed here if missing and we may; else why not. */
export function windowsToolsMissing(root: string): string | null {
  const tools = ["wine", "wineserver", "i686-w64-mingw32-gcc", "x86_64-w64-mingw32-gcc"];
  const has = () => spawnSync("sh", ["-c", tools.map((tool) => `command -v ${tool}`).join(" && ") + " && test -e /usr/lib/wine/wine"], { stdio: "ignore" }).status === 0;
  if (has()) return null;
  if (process.getuid?.() !== 0) return "wine32/wine64 and mingw-w64 are not installed and this test is not root: run scripts/setup-system.sh";
  const installed = spawnSync("bash", [join(root, "scripts", "setup-system.sh")], { encoding: "utf8", timeout: 600_000, env: { ...process.env, YZT_WITH_BROWSERS: "0" } });
  return has() ? null : `the Windows tools could not be installed (setup-system.sh exit ${installed.status}): ${installed.stderr.slice(-300)}`;
}

export class WinePrefix {
  constructor(readonly dir: string) {}

  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    // No Mono/Gecko prompts; quiet; this prefix only.
    return { ...process.env, WINEPREFIX: this.dir, WINEDEBUG: "-all", WINEDLLOVERRIDES: "mscoree,mshtml=", DISPLAY: "", ...extra };
  }

  run(args: string[], timeout = WINE_CALL_MS): SpawnSyncReturns<string> {
    const result = spawnSync("wine", args, { encoding: "utf8", env: this.env(), timeout, maxBuffer: 64 * 1024 * 1024 });
    if (result.error) throw new Error(`wine ${args.join(" ")}: ${result.error.message}`);
    return result;
  }

  /** The Unix path of a C:\\ path in the prefix (drive C is the prefix's drive_c; the names here need no case folding). */
  unixPath(windowsPath: string): string {
    const match = /^C:\\(.*)$/i.exec(windowsPath);
    if (!match) throw new Error(`not a path on drive C: ${windowsPath}`);
    return join(this.dir, "drive_c", ...match[1]!.split("\\"));
  }

  /**
   * A batch file in the prefix holding one Windows command line exactly as written (wine's own argument
   * quoting would change it), run by cmd.exe; returns the command to spawn. Its exit code is the command's.
   */
  batch(name: string, commandLine: string): string[] {
    const dir = join(this.dir, "drive_c", "yzt-test");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.bat`), `@${commandLine}\r\n@exit /b %ERRORLEVEL%\r\n`);
    return ["cmd", "/c", `C:\\yzt-test\\${name}.bat`];
  }

  /** Every key name under a registry root (both views of HKLM: WOW6432Node is a key of the 64-bit view). */
  registryKeys(root: string): string[] {
    return this.run(["reg", "query", root, "/s"]).stdout.split(/\r?\n/).filter((line) => line.startsWith("HKEY_")).map((line) => line.trim().toLowerCase());
  }

  /** The values of one key, or null when it does not exist. */
  registryValues(key: string): Map<string, string> | null {
    const result = this.run(["reg", "query", key]);
    if (result.status !== 0) return null;
    const values = new Map<string, string>();
    for (const line of result.stdout.split(/\r?\n/)) {
      const match = /^\s+(.+?)\s{4}REG_\w+\s{4}(.*)$/.exec(line);
      if (match) values.set(match[1]!, match[2]!.trim());
    }
    return values;
  }

  /** The installed host, started from its launcher as Chrome starts it. */
  startHostAsChrome(launcher: string, chromeId: string): WineHost {
    const command = this.batch("chrome-starts-host", `"%ComSpec%" /d /s /c ""${launcher}" chrome-extension://${chromeId}/ --parent-window=0"`);
    return new WineHost(spawn("wine", command, { env: this.env(), stdio: ["pipe", "pipe", "pipe"] }));
  }
}

export interface HostReply {
  id: number;
  result?: unknown;
  error?: { code: string; message: string };
}

type Waiter = { done: (value: unknown) => boolean };

/** A running host: requests, replies and events as native messaging carries them; every wait is bounded. */
export class WineHost {
  readonly events: Array<{ event: string; data: Record<string, unknown> }> = [];
  stderr = "";
  private readonly replies = new Map<number, HostReply>();
  private readonly waiters = new Set<Waiter>();
  private nextId = 1;
  private readonly exited: Promise<number | null>;

  constructor(private readonly child: ReturnType<typeof spawn>) {
    const decoder = new FrameDecoder(4 * 1024 * 1024);
    child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      for (const decoded of decoder.push(chunk)) {
        if (decoded.kind !== "message") continue;
        const value = decoded.value as HostReply & { event?: string; data?: Record<string, unknown> };
        if (typeof value.id === "number") this.replies.set(value.id, value);
        else if (typeof value.event === "string") this.events.push({ event: value.event, data: value.data ?? {} });
      }
      for (const waiter of [...this.waiters]) if (waiter.done(undefined)) this.waiters.delete(waiter);
    });
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  }

  /** Resolves with `probe()`'s first non-undefined value, checked after every frame; rejects after `ms`. */
  until<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${what} within ${ms} ms; host stderr:\n${this.stderr.slice(-3000)}`));
      }, ms);
      const waiter: Waiter = {
        done: () => {
          const value = probe();
          if (value === undefined) return false;
          clearTimeout(timer);
          resolve(value);
          return true;
        },
      };
      if (!waiter.done(undefined)) this.waiters.add(waiter);
    });
  }

  send(method: string, params: Record<string, unknown> = {}): number {
    const id = this.nextId++;
    this.child.stdin!.write(encodeFrame({ id, method, params }));
    return id;
  }

  call(method: string, params: Record<string, unknown>, ms: number): Promise<HostReply> {
    const id = this.send(method, params);
    return this.until(() => this.replies.get(id), ms, `no answer to ${method}`);
  }

  /** Closes the host's stdin, as the browser does, and waits for its exit code. */
  async close(ms: number): Promise<number | null> {
    this.child.stdin!.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the host did not exit within ${ms} ms after stdin closed; host stderr:\n${this.stderr.slice(-3000)}`)), ms);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }
}
