/**
 * User configuration of the native host: a small JSON file in the platform's config directory.
 * Every field is optional and validated; a broken file is reported by diagnose, never fatal.
 *
 * Layer support/ (config, log, version): plumbing every layer may use. It imports only the protocol contract.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { originSchema } from "../../protocol/origin.js";
import { array, integer, literal, object, optional, string, type Infer, type Schema } from "../../protocol/validate.js";

/** A PKCS#11 mechanism number: a JSON number or a hex string such as "0x80008100" (as vendors' headers write them). */
const mechanismNumber: Schema<number> = {
  parse(value, path = "value") {
    const number = typeof value === "string" && /^0x[0-9a-f]{1,8}$/i.test(value) ? Number.parseInt(value, 16) : value;
    return integer(0, 0xffffffff).parse(number, path);
  },
};

/** One library's SM2 mechanisms (see token/mechanisms.ts); `library` / `manufacturer` say which module it is for. */
const sm2MechanismsSchema = object({
  library: optional(string({ min: 1, max: 1024 })),
  manufacturer: optional(string({ min: 1, max: 64 })),
  message: optional(mechanismNumber),
  messageIdParameter: optional(literal("id", "none")),
  digest: optional(mechanismNumber),
  output: optional(literal("raw", "der", "auto")),
});

const configSchema = object({
  /** PKCS#11 module paths to load in addition to the discovered ones. */
  modules: optional(array(string({ min: 1, max: 1024 }), 32)),
  /** SKF (GM/T 0016) library paths to load in addition to the discovered ones. */
  skfModules: optional(array(string({ min: 1, max: 1024 }), 32)),
  /** Minutes a logged-in session may stay unused before the host logs it out. */
  idleTimeoutMinutes: optional(integer(1, 24 * 60)),
  /** PEM files or directories with CA certificates used by diagnose to check certificate chains. */
  caCertificates: optional(array(string({ min: 1, max: 1024 }), 64)),
  /** Wrong PINs before the token locks (Beijing 一证通: 10); lets the host report exact retries. */
  pinMaxTries: optional(integer(1, 100)),
  /**
   * Issuer sites besides https://yzt.beijing.gov.cn that may renew and unlock keys (the extension adds them to
   * its own list, with those of enterprise policy); exact https origins.
   */
  issuerOrigins: optional(array(originSchema, 16)),
  /** SM2 mechanisms of vendor libraries the host does not know yet. */
  sm2Mechanisms: optional(array(sm2MechanismsSchema, 32)),
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

/**
 * Doctor --fix for the config file: a file that is not valid JSON is set aside (kept as .broken for the
 * user) and replaced by an empty one; module paths that no longer exist are dropped. Returns what it did.
 */
export function repairConfig(env: NodeJS.ProcessEnv = process.env, exists: (path: string) => boolean = existsSync): string[] {
  const { path, config, problem } = loadConfig(env);
  const actions: string[] = [];
  if (problem) {
    renameSync(path, `${path}.broken`);
    writeFileSync(path, "{}\n");
    actions.push(`config file was invalid (${problem}); moved to ${path}.broken`);
    return actions;
  }
  const lists = { modules: "PKCS#11 modules", skfModules: "SKF libraries" } as const;
  let repaired = config;
  for (const [field, what] of Object.entries(lists) as [keyof typeof lists, string][]) {
    const paths = config[field] ?? [];
    const kept = paths.filter((module) => exists(module));
    if (kept.length === paths.length) continue;
    repaired = { ...repaired, [field]: kept };
    actions.push(`removed missing ${what} from the config: ${paths.filter((m) => !kept.includes(m)).join(", ")}`);
  }
  if (repaired !== config) {
    mkdirSync(configDirectory(env), { recursive: true });
    writeFileSync(path, JSON.stringify(repaired, null, 2) + "\n");
  }
  return actions;
}
