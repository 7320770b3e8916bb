/**
 * User configuration of the native host: a small JSON file in the platform's config directory.
 * Every field is optional and validated; a broken file is reported by diagnose, never fatal.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { array, integer, object, optional, string, type Infer } from "./validate.js";

const configSchema = object({
  /** PKCS#11 module paths to load in addition to the discovered ones. */
  modules: optional(array(string({ min: 1, max: 1024 }), 32)),
  /** Minutes a logged-in session may stay unused before the host logs it out. */
  idleTimeoutMinutes: optional(integer(1, 24 * 60)),
  /** PEM files or directories with CA certificates used by diagnose to check certificate chains. */
  caCertificates: optional(array(string({ min: 1, max: 1024 }), 64)),
  /** Wrong PINs before the token locks (Beijing 一证通: 10); lets the host report exact retries. */
  pinMaxTries: optional(integer(1, 100)),
});

export type HostConfig = Infer<typeof configSchema>;

export function configDirectory(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (env.YZT_CONFIG_DIR) return env.YZT_CONFIG_DIR;
  if (platform === "win32") return join(env.APPDATA ?? join(homedir(), "AppData", "Roaming"), "yzt-bridge");
  if (platform === "darwin") return join(homedir(), "Library", "Application Support", "yzt-bridge");
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), ".config"), "yzt-bridge");
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDirectory(env), "config.json");
}

export interface LoadedConfig {
  path: string;
  config: HostConfig;
  /** Why the file could not be used, when it exists but is broken. */
  problem?: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = configPath(env);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { path, config: {} };
  }
  try {
    return { path, config: configSchema.parse(JSON.parse(text), "config") };
  } catch (error) {
    return { path, config: {}, problem: error instanceof Error ? error.message : String(error) };
  }
}
