/**
 * Environment check ("环境检测"): is a key library (PKCS#11 or SKF) there and loaded, is a token inserted, is its PIN
 * usable, are its certificates valid and do they chain to a known root. Each finding is a check with a
 * stable id so the extension can localise it and offer the matching repair.
 */
import type { X509Certificate } from "node:crypto";
import { checkChain } from "../../crypto/chain.js";
import { parseCertificate } from "../../crypto/certificate.js";
import type { DiagnoseResult, DiagnosticCheck } from "../../protocol/messages.js";
import type { TokenInfo as YztTokenInfo, YztCertificate } from "../../protocol/types.js";
import { basename } from "node:path";
import type { KeyLibrary } from "./device.js";
import type { TokenService } from "./token-service.js";
import { identifyUsbKeys, readUsbDevices, USB_KEY_MODELS, type IdentifiedUsbKey } from "./usb-keys.js";
import { HOST_VERSION } from "../support/version.js";

export interface DiagnoseContext {
  service: TokenService;
  /** Problem with the user config file, if any. */
  configProblem?: string;
  authorities: () => X509Certificate[];
  /** Known 国密 keys plugged in (sysfs on Linux); injectable for tests. */
  usbKeys?: () => IdentifiedUsbKey[];
  now?: Date;
}

export async function diagnose(context: DiagnoseContext): Promise<DiagnoseResult> {
  const { service } = context;
  const now = context.now ?? new Date();
  // Libraries whose driver is still starting are given their first answer (bounded): a check right after
  // start must not call a library that merely has not spoken yet broken.
  await service.librariesAnswered();
  const checks: DiagnosticCheck[] = [
    { id: "host", status: "ok", message: `yzt-bridge host ${HOST_VERSION} on Node ${process.versions.node}`, detail: { platform: process.platform } },
  ];
  if (context.configProblem) checks.push({ id: "config", status: "warning", message: context.configProblem });

  if (service.libraries.length === 0) {
    checks.push({ id: "module", status: "error", message: "no key library (PKCS#11 or SKF) found: install the key's driver (证书驱动)" });
  }
  for (const library of service.libraries) {
    const { kind, path, source } = library.candidate;
    const what = kind === "skf" ? "SKF library" : "PKCS#11 module";
    // A driver that crashed or is quarantined is reported by its own check (driverCheck).
    if (library.health?.state === "restarting" || library.health?.state === "quarantined") continue;
    const problem = library.error ?? service.scanProblem(library);
    checks.push(
      problem === undefined
        ? { id: "module", status: "ok", message: `loaded ${what} ${path}`, detail: { kind, path, source, manufacturer: library.manufacturer } }
        : library.error !== null
          ? { id: "module", status: "error", message: `cannot load ${what} ${path}: ${library.error}`, detail: { kind, path, source } }
          : { id: "module", status: "error", message: `${what} ${path} loaded but fails to list its keys: ${problem}`, detail: { kind, path, source } },
    );
  }

  checks.push(...service.libraries.flatMap(driverCheck));
  checks.push(...usbKeyChecks((context.usbKeys ?? (() => identifyUsbKeys(readUsbDevices())))()));

  const { tokens, certificates } = await service.snapshot();
  const present = tokens.filter((token) => token.present);
  checks.push(
    present.length > 0
      ? { id: "token", status: "ok", message: `${present.length} token(s) inserted`, detail: { serials: present.map((t) => t.serial), servedBy: servedBy(service, present) } }
      : { id: "token", status: "error", message: "no token inserted: insert the USB key (请插入证书)" },
  );
  for (const token of present) {
    const { pin } = token;
    const detail = { tokenSerial: token.serial, retriesLeft: pin.retriesLeft };
    if (pin.locked) checks.push({ id: "pin", status: "error", message: `PIN of ${token.serial} is locked`, detail });
    else if (pin.countLow || pin.finalTry) checks.push({ id: "pin", status: "warning", message: `wrong PINs were entered on ${token.serial}`, detail });
    else checks.push({ id: "pin", status: "ok", message: `PIN of ${token.serial} is usable`, detail });
  }

  if (present.length > 0 && certificates.length === 0) {
    checks.push({ id: "certificate", status: "error", message: "the token holds no usable certificate" });
  }
  const authorities = certificates.length > 0 ? context.authorities() : [];
  for (const { der, yzt } of certificates) {
    const detail = { certificateId: yzt.id, holderName: yzt.holderName, daysLeft: yzt.daysLeft, notAfter: yzt.notAfter };
    const status = yzt.status === "valid" ? "ok" : yzt.status === "expiring" ? "warning" : "error";
    checks.push({ id: "certificate", status, message: `${yzt.holderName} (${yzt.purpose}): ${yzt.status}, ${yzt.daysLeft} days left`, detail });
    checks.push(keyUsageCheck(yzt), ...(yzt.purpose === "sign" ? [identityCheck(yzt, parseCertificate(der).uniqueId)] : []));
    const chain = checkChain(der, authorities, now);
    checks.push(
      chain.status === "ok"
        ? { id: "chain", status: "ok", message: `chain of ${yzt.id} is complete`, detail: { certificateId: yzt.id, path: chain.path } }
        : chain.status === "incomplete"
          ? { id: "chain", status: "warning", message: `issuer not found: ${chain.missingIssuer}`, detail: { certificateId: yzt.id, path: chain.path } }
          : { id: "chain", status: "error", message: chain.reason, detail: { certificateId: yzt.id, path: chain.path } },
    );
  }
  return { host: HOST_VERSION, checks };
}

/** The model whose driver ships a library of this file name (the USB-id table), for the advice. */
function modelOfLibrary(path: string): string | undefined {
  const file = basename(path.replace(/\\/g, "/")).toLowerCase();
  const model = USB_KEY_MODELS.find((candidate) =>
    Object.values(candidate.libraries).some((libraries) => [...libraries.skf, ...libraries.pkcs11].some((location) => location.file.toLowerCase() === file)),
  );
  return model ? `${model.vendor.zh} ${model.model}` : undefined;
}

/**
 * A library in a driver process that is not serving normally: still starting, crashed or hung and being
 * restarted, or quarantined after repeated failures — which vendor function failed, and what to do.
 */
function driverCheck(library: KeyLibrary): DiagnosticCheck[] {
  const health = library.health;
  if (!health || library.error !== null) return [];
  const { path, kind } = library.candidate;
  const failure = health.lastFailure;
  const model = modelOfLibrary(path);
  const detail = { path, kind, state: health.state, recentFailures: health.recentFailures, ...(failure ? { call: failure.call, failure: failure.kind, at: failure.at } : {}), ...(model ? { model } : {}) };
  const advice = `update the key's driver${model ? ` (${model})` : ""} from its vendor, then retry (yzt doctor --retry, 全部修复)`;
  switch (health.state) {
    case "starting":
      return [{ id: "driver", status: "warning", message: `${path} is still starting (its keys are listed once it answers)`, detail }];
    case "restarting":
      return [{ id: "driver", status: "error", message: `${path} ${failure?.kind ?? "crashed"} in ${failure?.call ?? "?"} (${failure?.detail ?? ""}); restarting`, detail }];
    case "quarantined":
      return [{ id: "driver", status: "error", message: `${path} is quarantined: it failed ${failure?.kind === "hung" ? "(hung)" : "(crashed)"} in ${failure?.call ?? "?"} again and again; ${advice}`, detail }];
    default:
      return failure ? [{ id: "driver", status: "warning", message: `${path} ${failure.kind} in ${failure.call} at ${failure.at} and was restarted`, detail }] : [];
  }
}

/** Which library (kind and path) drives each inserted key: what a help desk asks first. */
function servedBy(service: TokenService, tokens: YztTokenInfo[]): Record<string, { kind: string; path: string }> {
  const served: Record<string, { kind: string; path: string }> = {};
  for (const token of tokens) {
    const library = service.servingLibrary(token.serial);
    if (library) served[token.serial] = { kind: library.kind, path: library.path };
  }
  return served;
}

/** Each inserted key of a known model: is its driver (SKF library or PKCS#11 module) installed here? */
function usbKeyChecks(keys: IdentifiedUsbKey[]): DiagnosticCheck[] {
  return keys.map((key) => {
    const detail = { model: key.model, vendor: key.vendor, usb: `${key.usb.vendorId}:${key.usb.productId}`, skfLibraries: key.skfLibraries, pkcs11Libraries: key.pkcs11Libraries, installHint: key.installHint };
    if (!key.missingDriver) return { id: "usbKey", status: "ok", message: `${key.model} (USB ${detail.usb}): driver ${[...key.skfLibraries, ...key.pkcs11Libraries].join(", ")}`, detail };
    const only32 = key.build32Libraries.length > 0 ? `; only a 32-bit driver is installed (${key.build32Libraries.join(", ")}), which this 64-bit host cannot load` : "";
    return { id: "usbKey", status: "error", message: `${key.model} (USB ${detail.usb}) is inserted but its driver is not installed${only32}: ${key.installHint}`, detail };
  });
}

const SIGNING_USAGES = ["digitalSignature", "nonRepudiation"];
const ENCRYPTION_USAGES = ["keyEncipherment", "dataEncipherment", "keyAgreement"];

/** The certificate may do what it is offered for: signing (login, declarations) or encryption. */
function keyUsageCheck(yzt: YztCertificate): DiagnosticCheck {
  const wanted = yzt.purpose === "sign" ? SIGNING_USAGES : ENCRYPTION_USAGES;
  const detail = { certificateId: yzt.id, keyUsage: yzt.keyUsage };
  return yzt.keyUsage.length === 0 || yzt.keyUsage.some((usage) => wanted.includes(usage))
    ? { id: "keyUsage", status: "ok", message: `${yzt.id} may be used for ${yzt.purpose === "sign" ? "signing" : "encryption"}`, detail }
    : { id: "keyUsage", status: "error", message: `${yzt.id}: its key usage (${yzt.keyUsage.join(", ")}) does not allow ${yzt.purpose === "sign" ? "signing" : "encryption"}`, detail };
}

/**
 * The tax hall links a login to a company by the credit code and BJCA's unique id in the certificate.
 * Without them it answers "您未开通网上审批业务": the certificate must be bound at the issuer.
 */
function identityCheck(yzt: YztCertificate, uniqueId: string | undefined): DiagnosticCheck {
  const missing = [...(yzt.creditCode ? [] : ["credit code"]), ...(uniqueId ? [] : ["unique id"])];
  const detail = { certificateId: yzt.id, creditCode: yzt.creditCode ?? null, uniqueId: uniqueId ?? null };
  return missing.length === 0
    ? { id: "identity", status: "ok", message: `${yzt.id}: credit code ${yzt.creditCode}, unique id ${uniqueId}`, detail }
    : { id: "identity", status: "warning", message: `${yzt.id}: no ${missing.join(" and no ")} in the certificate`, detail };
}
