/**
 * Builds a TokenService from the environment, the same way for the native host and the `yzt` CLI:
 * explicit modules (--module / YZT_PKCS11_MODULE) or discovery, the user config, and tunables.
 */
import { delimiter } from "node:path";
import { loadConfig } from "../support/config.js";
import type { Logger } from "../support/log.js";
import { configuredSm2Mechanisms } from "./mechanisms.js";
import { discoverModules, explicitModulesFrom, type ModuleCandidate } from "./modules.js";
import { TokenService } from "./token-service.js";

export interface ServiceSetup {
  service: TokenService;
  discover: () => ModuleCandidate[];
  caPaths: string[];
  configProblem?: string;
}

function positiveNumber(text: string | undefined): number | undefined {
  const value = text === undefined ? NaN : Number(text);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

export function setupService(options: { cliModules?: string[]; env?: NodeJS.ProcessEnv; logger?: Logger }): ServiceSetup {
  const env = options.env ?? process.env;
  const { config, problem, path } = loadConfig(env);
  // Reads the config file again each time: repair and doctor --fix run after the user (or --fix) changed it.
  const discover = () =>
    discoverModules({ explicit: explicitModulesFrom(options.cliModules ?? [], env), configModules: loadConfig(env).config.modules ?? [] });
  const idleMinutes = config.idleTimeoutMinutes;
  const idleTimeoutMs = positiveNumber(env.YZT_IDLE_TIMEOUT_MS) ?? (idleMinutes ? idleMinutes * 60_000 : undefined);
  const pollIntervalMs = positiveNumber(env.YZT_POLL_MS);
  const service = new TokenService(discover(), {
    ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
    ...(pollIntervalMs ? { pollIntervalMs } : {}),
    ...(config.pinMaxTries ? { pinMaxTries: config.pinMaxTries } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    sm2: { configured: configuredSm2Mechanisms(config.sm2Mechanisms ?? []), configPath: path },
  });
  const caPaths = [
    ...(config.caCertificates ?? []),
    ...(env.YZT_CA_CERTIFICATES ?? "").split(delimiter).filter((p) => p.length > 0),
  ];
  return { service, discover, caPaths, ...(problem ? { configProblem: problem } : {}) };
}
