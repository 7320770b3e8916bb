/**
 * Builds a TokenService from the environment, the same way for the native host and the `yzt` CLI: explicit
 * libraries (--module / YZT_PKCS11_MODULE, --skf-module / YZT_SKF_MODULE) or discovery, the user config, and
 * tunables. This is where the adapters are plugged in: the loader below is the only place above the seam
 * that names them.
 */
import { delimiter } from "node:path";
import { loadConfig } from "../support/config.js";
import type { Logger } from "../support/log.js";
import type { LibraryCandidate, LibraryLoader } from "./device.js";
import { discoverLibraries, explicitSkfFrom } from "./libraries.js";
import { explicitModulesFrom } from "./modules.js";
import { loadPkcs11Library } from "./pkcs11/library.js";
import { configuredSm2Mechanisms, type Sm2Settings } from "./pkcs11/mechanisms.js";
import { loadSkfLibrary } from "./skf/library.js";
import { TokenService } from "./token-service.js";
import { knownSkfLibraries } from "./usb-keys.js";

export interface ServiceSetup {
  service: TokenService;
  discover: () => LibraryCandidate[];
  caPaths: string[];
  configProblem?: string;
}

export interface SetupOptions {
  /** --module values (PKCS#11). */
  cliModules?: string[];
  /** --skf-module values. */
  cliSkfModules?: string[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

function positiveNumber(text: string | undefined): number | undefined {
  const value = text === undefined ? NaN : Number(text);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

export function libraryLoader(sm2: Sm2Settings): LibraryLoader {
  return (candidate) => (candidate.kind === "skf" ? loadSkfLibrary(candidate) : loadPkcs11Library(candidate, sm2));
}

export function setupService(options: SetupOptions): ServiceSetup {
  const env = options.env ?? process.env;
  const { config, problem, path } = loadConfig(env);
  // Reads the config file again each time: repair and doctor --fix run after the user (or --fix) changed it.
  const discover = () => {
    const current = loadConfig(env).config;
    return discoverLibraries({
      explicitPkcs11: explicitModulesFrom(options.cliModules ?? [], env),
      explicitSkf: explicitSkfFrom(options.cliSkfModules ?? [], env),
      configModules: current.modules ?? [],
      configSkfModules: current.skfModules ?? [],
      knownSkf: knownSkfLibraries(process.platform),
    });
  };
  const idleMinutes = config.idleTimeoutMinutes;
  const idleTimeoutMs = positiveNumber(env.YZT_IDLE_TIMEOUT_MS) ?? (idleMinutes ? idleMinutes * 60_000 : undefined);
  const pollIntervalMs = positiveNumber(env.YZT_POLL_MS);
  const loader = libraryLoader({ configured: configuredSm2Mechanisms(config.sm2Mechanisms ?? []), configPath: path });
  const service = new TokenService(discover(), loader, {
    ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
    ...(pollIntervalMs ? { pollIntervalMs } : {}),
    ...(config.pinMaxTries ? { pinMaxTries: config.pinMaxTries } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const caPaths = [
    ...(config.caCertificates ?? []),
    ...(env.YZT_CA_CERTIFICATES ?? "").split(delimiter).filter((p) => p.length > 0),
  ];
  return { service, discover, caPaths, ...(problem ? { configProblem: problem } : {}) };
}
