/**
 * Builds a TokenService from the environment, the same way for the native host and the `yzt` CLI: explicit
 * libraries (--module / YZT_PKCS11_MODULE, --skf-module / YZT_SKF_MODULE) or discovery, the user config, and
 * tunables. This is where the adapters are plugged in: the loader below is the only place above the seam
 * that names them.
 *
 * The PKCS#11 adapter is imported on its own (a dynamic import, awaited by setupService) and may be
 * missing: graphene-pk11 loads the pkcs11js addon as it starts, and an installation can lack that addon (the
 * Windows installer built on Linux: the npm registry has no Windows pkcs11js). The host then still starts and
 * serves SKF keys, every PKCS#11 library is listed as failed with why, and bindingChecks() tells doctor.
 */
import { createRequire } from "node:module";
import { delimiter } from "node:path";
import type { DiagnosticCheck } from "../../protocol/messages.js";
import { loadConfig } from "../support/config.js";
import type { Logger } from "../support/log.js";
import { failedLibrary, type LibraryCandidate, type LibraryLoader } from "./device.js";
import { discoverLibraries, explicitSkfFrom } from "./libraries.js";
import { explicitModulesFrom } from "./modules.js";
import { configuredSm2Mechanisms, type Sm2Settings } from "./pkcs11/mechanisms.js";
import { loadSkfLibrary } from "./skf/library.js";
import { TokenService } from "./token-service.js";
import { knownSkfLibraries } from "./usb-keys.js";

export interface ServiceSetup {
  service: TokenService;
  discover: () => LibraryCandidate[];
  caPaths: string[];
  issuerOrigins: string[];
  configProblem?: string;
  liftQuarantine?: () => string[];
}

export interface SetupOptions {
  /** --module values (PKCS#11). */
  cliModules?: string[];
  /** --skf-module values. */
  cliSkfModules?: string[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /**
   * How libraries are loaded: the program entries pass the driver processes' loader (driver/loader.ts);
   * without one they load in this process (the driver itself, unit tests, the benchmark's floor).
   */
  loader?: LoaderFactory;
  /** Lifts the quarantine of key libraries that crashed again and again (repair, yzt doctor --retry). */
  liftQuarantine?: () => string[];
}

/** Builds the loader for the libraries of a service, with the SM2 settings of the config file. */
export type LoaderFactory = (sm2: Sm2Settings) => Promise<LibraryLoader>;

function positiveNumber(text: string | undefined): number | undefined {
  const value = text === undefined ? NaN : Number(text);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

type Pkcs11Loader = (typeof import("./pkcs11/library.js"))["loadPkcs11Library"];

/** The PKCS#11 adapter's loader, or why this installation has none; set by the first setupService. */
let pkcs11Adapter: Pkcs11Loader | Error | undefined;

async function loadPkcs11Adapter(): Promise<Pkcs11Loader | Error> {
  return (pkcs11Adapter ??= await import("./pkcs11/library.js").then(
    (adapter) => adapter.loadPkcs11Library,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  ));
}

export const PKCS11_BINDING_MISSING = "the PKCS#11 binding (pkcs11js) is not in this installation";

/** Null when PKCS#11 libraries can be loaded; else what is missing, with the loader's own first line. */
export function pkcs11Binding(): string | null {
  if (pkcs11Adapter === undefined) throw new Error("pkcs11Binding() before setupService()");
  if (!(pkcs11Adapter instanceof Error)) return null;
  return `${PKCS11_BINDING_MISSING} (${pkcs11Adapter.message.split("\n")[0]})`;
}

/** koffi (the SKF backend's FFI) and its binary for this platform: can they be found from here? */
function skfBinding(): string | null {
  const find = createRequire(import.meta.url);
  const platformPackage = `@koromix/koffi-${process.platform}-${process.arch}`;
  for (const name of ["koffi", platformPackage]) {
    try {
      find.resolve(name);
    } catch {
      return `the SKF binding (${name}) is not in this installation`;
    }
  }
  return null;
}

/** The environment check's word on the two bindings: which key libraries this installation can load at all. */
export async function bindingChecks(): Promise<DiagnosticCheck[]> {
  // With driver processes the host itself never needed the PKCS#11 adapter: look for it now.
  await loadPkcs11Adapter();
  const pkcs11 = pkcs11Binding();
  const skf = skfBinding();
  return [
    pkcs11
      ? { id: "binding", status: skf ? "error" : "warning", message: `${pkcs11}: PKCS#11 modules cannot be loaded${skf ? "" : "; SKF libraries can"}`, detail: { backend: "pkcs11" } }
      : { id: "binding", status: "ok", message: "PKCS#11 binding (pkcs11js) present", detail: { backend: "pkcs11" } },
    skf
      ? { id: "binding", status: "error", message: `${skf}: SKF libraries cannot be loaded`, detail: { backend: "skf" } }
      : { id: "binding", status: "ok", message: "SKF binding (koffi) present", detail: { backend: "skf" } },
  ];
}

/** The SM2 mechanisms the config file teaches (read by the host and by each driver process). */
export function sm2SettingsFrom(env: NodeJS.ProcessEnv): Sm2Settings {
  const { config, path } = loadConfig(env);
  return { configured: configuredSm2Mechanisms(config.sm2Mechanisms ?? []), configPath: path };
}

/** Loads libraries in this process, through the adapters. */
export async function libraryLoader(sm2: Sm2Settings): Promise<LibraryLoader> {
  const pkcs11 = await loadPkcs11Adapter();
  return (candidate) => {
    if (candidate.kind === "skf") return loadSkfLibrary(candidate);
    return pkcs11 instanceof Error ? failedLibrary(candidate, pkcs11Binding()!) : pkcs11(candidate, sm2);
  };
}

export async function setupService(options: SetupOptions): Promise<ServiceSetup> {
  const env = options.env ?? process.env;
  const { config, problem } = loadConfig(env);
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
  const loader = await (options.loader ?? libraryLoader)(sm2SettingsFrom(env));
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
  return { service, discover, caPaths, issuerOrigins: config.issuerOrigins ?? [], ...(problem ? { configProblem: problem } : {}), ...(options.liftQuarantine ? { liftQuarantine: options.liftQuarantine } : {}) };
}
