/**
 * Host logging. stdout carries the protocol, so logs go to stderr (browsers keep it) or YZT_LOG_FILE.
 * stderr is written through its descriptor, as the protocol is (transport/stdio.ts): Node's stderr stream on a
 * pipe fails under Wine.
 * Callers pass method names, codes and counts only: PINs, keys and signed data are never logged.
 */
import { appendFileSync, writeSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";
const STDERR_FD = 2;
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, string | number | boolean | undefined>): void;
}

export function createLogger(env: NodeJS.ProcessEnv = process.env): Logger {
  const threshold = ORDER[(env.YZT_LOG_LEVEL as LogLevel | undefined) ?? "info"] ?? ORDER.info;
  const file = env.YZT_LOG_FILE;
  return {
    log(level, message, fields) {
      if (ORDER[level] < threshold) return;
      const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) + "\n";
      try {
        if (file) appendFileSync(file, line);
        else writeSync(STDERR_FD, line);
      } catch {
        // Logging must never take the host down.
      }
    },
  };
}

export const silentLogger: Logger = { log() {} };
