/**
 * Libraries set aside after crashing or hanging again and again: a file in the user's config directory, so
 * that the next host (the browser restarted) does not walk into the same crash three more times. An entry
 * holds while the library file is the one that crashed (same size and modification time): a vendor update
 * lifts it by itself, and so do `yzt doctor --retry` and 全部修复 (repair), which clear the file.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configDirectory } from "../support/config.js";

export interface QuarantineEntry {
  /** Size and modification time of the file that failed: another file lifts the quarantine. */
  identity: string;
  since: string;
  /** The vendor function that crashed or hung the last time. */
  call: string;
  reason: string;
}

const FILE = "quarantine.json";

export function libraryIdentity(path: string): string {
  try {
    const stat = statSync(path);
    return `${stat.size}:${Math.round(stat.mtimeMs)}`;
  } catch {
    return "missing";
  }
}

export class QuarantineStore {
  private readonly file: string;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.file = join(configDirectory(env), FILE);
  }

  /** The entry for this library while it still is the file that failed. */
  find(path: string): QuarantineEntry | undefined {
    const entry = this.read()[path];
    return entry && entry.identity === libraryIdentity(path) ? entry : undefined;
  }

  add(path: string, entry: Omit<QuarantineEntry, "identity">): QuarantineEntry {
    const full = { identity: libraryIdentity(path), ...entry };
    const all = { ...this.read(), [path]: full };
    try {
      mkdirSync(join(this.file, ".."), { recursive: true });
      const partial = `${this.file}.${process.pid}`;
      writeFileSync(partial, `${JSON.stringify(all, null, 2)}\n`);
      renameSync(partial, this.file);
    } catch {
      // Not writable: the quarantine still holds for this host's life.
    }
    return full;
  }

  /** Lifts every quarantine; returns the libraries that were in it. */
  clear(): string[] {
    const paths = Object.keys(this.read());
    rmSync(this.file, { force: true });
    return paths;
  }

  private read(): Record<string, QuarantineEntry> {
    try {
      const parsed = JSON.parse(readFileSync(this.file, "utf8")) as unknown;
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
      const entries: Record<string, QuarantineEntry> = {};
      for (const [path, value] of Object.entries(parsed as Record<string, unknown>)) {
        const entry = value as Partial<QuarantineEntry> | null;
        if (entry && typeof entry.identity === "string" && typeof entry.since === "string" && typeof entry.call === "string" && typeof entry.reason === "string") {
          entries[path] = entry as QuarantineEntry;
        }
      }
      return entries;
    } catch {
      return {};
    }
  }
}
