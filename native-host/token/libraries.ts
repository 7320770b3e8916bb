/**
 * Which key libraries the host loads, of both kinds: SKF (GM/T 0016) libraries and PKCS#11 modules.
 * Order: anything explicit (--skf-module / YZT_SKF_MODULE, --module / YZT_PKCS11_MODULE) replaces discovery
 * of both kinds — tests, the demo and a user who knows better get exactly what they named. Otherwise the
 * config file's skfModules, the SKF libraries of known key models installed here, then PKCS#11 discovery
 * (modules.ts). SKF libraries come first: a 国密 key that both serve is then driven through SKF, whose SM2
 * is the same for every vendor, where PKCS#11 SM2 numbers are vendor-defined.
 */
import type { LibraryCandidate } from "./device.js";
import { discoverModules, explicitPaths, realFiles, type FileProbe } from "./modules.js";

export interface LibraryDiscoveryInput {
  explicitPkcs11?: string[];
  explicitSkf?: string[];
  configModules?: string[];
  configSkfModules?: string[];
  /** SKF libraries of known key models found on this machine (usb-keys.ts). */
  knownSkf?: string[];
  platform?: NodeJS.Platform;
  files?: FileProbe;
}

export function discoverLibraries(input: LibraryDiscoveryInput): LibraryCandidate[] {
  const files = input.files ?? realFiles;
  const explicitSkf = input.explicitSkf ?? [];
  const explicitPkcs11 = input.explicitPkcs11 ?? [];
  if (explicitSkf.length > 0 || explicitPkcs11.length > 0) {
    return [
      ...explicitSkf.map((path) => ({ kind: "skf" as const, path, source: "explicit" as const })),
      ...explicitPkcs11.map((path) => ({ kind: "pkcs11" as const, path, source: "explicit" as const })),
    ];
  }
  // Known libraries arrive one path per library (usb-keys.ts compared their contents); only the config's
  // entries must be compared, with each other and with them — and only when there are any, since telling
  // files apart means hashing whole vendor libraries at start-up.
  const config = input.configSkfModules ?? [];
  const known = input.knownSkf ?? [];
  const seen = new Set<string>();
  const firstOfItsLibrary = (path: string) => {
    const identity = files.identity(path);
    if (seen.has(identity)) return false;
    seen.add(identity);
    return true;
  };
  const uniqueSkf: LibraryCandidate[] = [
    ...config.filter(firstOfItsLibrary).map((path) => ({ kind: "skf" as const, path, source: "config" as const })),
    ...(config.length > 0 ? known.filter(firstOfItsLibrary) : known).map((path) => ({ kind: "skf" as const, path, source: "known" as const })),
  ];
  const pkcs11 = discoverModules({
    configModules: input.configModules ?? [],
    files,
    ...(input.platform ? { platform: input.platform } : {}),
  }).map((candidate) => ({ kind: "pkcs11" as const, ...candidate }));
  return [...uniqueSkf, ...pkcs11];
}

/** `YZT_SKF_MODULE` may hold several paths separated like PATH; --skf-module wins over it. */
export function explicitSkfFrom(cliModules: string[], env: NodeJS.ProcessEnv): string[] {
  return explicitPaths(cliModules, env.YZT_SKF_MODULE);
}
