/**
 * A Wine prefix for the Windows package tests: commands with a time limit, registry reads, paths on drive C,
 * and the installed host started exactly as Chrome starts it on Windows (cmd.exe /d /s /c with the launcher
 * quoted, the caller's origin and --parent-window), talked to over native-messaging frames (framed-host.ts).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FramedHost } from "./framed-host.js";
import { commandsAndFilesPresent, systemToolsMissing } from "./system-tools.js";

/** One Wine call (install, query, uninstall): generous for a loaded CI machine, finite. */
export const WINE_CALL_MS = 120_000;

/** Wine (64- and 32-bit: the 32-bit loader) and the mingw-w64 cross compilers, installed here if missing and we may; else why not. */
export function windowsToolsMissing(): string | null {
  const present = () => commandsAndFilesPresent(["wine", "wineserver", "i686-w64-mingw32-gcc", "x86_64-w64-mingw32-gcc"], ["/usr/lib/wine/wine"]);
  return systemToolsMissing(present, "wine32/wine64 and mingw-w64");
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
  startHostAsChrome(launcher: string, chromeId: string): FramedHost {
    const command = this.batch("chrome-starts-host", `"%ComSpec%" /d /s /c ""${launcher}" chrome-extension://${chromeId}/ --parent-window=0"`);
    return new FramedHost(spawn("wine", command, { env: this.env(), stdio: ["pipe", "pipe", "pipe"] }));
  }
}
