/**
 * Driver discovery by USB id: which 国密 keys are plugged in (read from sysfs, no libusb), which model each
 * is (usb-key-models.ts), and whether its vendor's SKF library or PKCS#11 module is installed here. This is
 * how `yzt doctor` names an inserted key whose driver is missing, and how discovery finds SKF libraries
 * when the user configured none (libraries.ts). Pure apart from the injected FileProbe (modules.ts), so
 * tests run on a fake sysfs tree and fake install directories for any OS.
 */
import { posix, win32 } from "node:path";
import { driverRuntime } from "../support/runtimes.js";
import { realFiles, type FileProbe } from "./modules.js";
import { USB_KEY_MODELS, type LibraryLocation, type UsbKeyModel } from "./usb-key-models.js";

export { USB_KEY_MODELS, type KeyPlatform, type LibraryLocation, type UsbKeyModel } from "./usb-key-models.js";

/** Linux lists every USB device (and each interface, which has no idVendor) as a directory here. */
export const SYSFS_USB_DEVICES_DIR = "/sys/bus/usb/devices";
/** sysfs strings are short; anything longer is garbage, cut so a bad file cannot flood a report. */
export const MAX_SYSFS_TEXT_CHARS = 256;
const USB_ID = /^[0-9a-f]{4}$/i;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/g;

export interface UsbDevice {
  /** The device's sysfs directory. */
  path: string;
  /** Four lower-case hex digits. */
  vendorId: string;
  productId: string;
  manufacturer?: string;
  product?: string;
  serial?: string;
}

export interface IdentifiedUsbKey {
  modelId: string;
  model: string;
  vendor: string;
  usb: { vendorId: string; productId: string; serial?: string };
  /** Installed SKF libraries this host can load (a 32-bit build through its 32-bit driver runtime), one path per library. */
  skfLibraries: string[];
  pkcs11Libraries: string[];
  /** Installed 32-bit builds this installation cannot load (it has no 32-bit driver runtime, or they are PKCS#11 modules). */
  build32Libraries: string[];
  /** No loadable library of either kind is installed. */
  missingDriver: boolean;
  /** File names the model's driver installs on this OS, for the hint. */
  expectedFiles: string[];
  installHint: string;
}

function readField(files: FileProbe, path: string): string | undefined {
  let text: string;
  try {
    text = files.readText(path);
  } catch {
    return undefined;
  }
  const clean = text.slice(0, MAX_SYSFS_TEXT_CHARS).replace(CONTROL_CHARACTERS, " ").trim();
  return clean.length > 0 ? clean : undefined;
}

function readUsbId(files: FileProbe, path: string): string | undefined {
  const value = readField(files, path);
  return value !== undefined && USB_ID.test(value) ? value.toLowerCase() : undefined;
}

/**
 * The USB devices sysfs lists under `root`. Entries without a readable four-digit idVendor and idProduct
 * (interfaces, half-removed devices, unreadable files) are skipped, never thrown.
 */
export function readUsbDevices(root = SYSFS_USB_DEVICES_DIR, files: FileProbe = realFiles): UsbDevice[] {
  const devices: UsbDevice[] = [];
  for (const entry of [...files.listDir(root)].sort()) {
    const path = posix.join(root, entry);
    const vendorId = readUsbId(files, posix.join(path, "idVendor"));
    const productId = readUsbId(files, posix.join(path, "idProduct"));
    if (vendorId === undefined || productId === undefined) continue;
    const device: UsbDevice = { path, vendorId, productId };
    const manufacturer = readField(files, posix.join(path, "manufacturer"));
    const product = readField(files, posix.join(path, "product"));
    const serial = readField(files, posix.join(path, "serial"));
    if (manufacturer !== undefined) device.manufacturer = manufacturer;
    if (product !== undefined) device.product = product;
    if (serial !== undefined) device.serial = serial;
    devices.push(device);
  }
  return devices;
}

function pathsFor(platform: NodeJS.Platform): typeof posix {
  return platform === "win32" ? win32 : posix;
}

function wildcard(segment: string, platform: NodeJS.Platform): RegExp {
  const escaped = segment.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`, platform === "win32" ? "i" : "");
}

/** A directory with `*` segments, expanded against what exists; a plain directory is returned as is. */
function expandDir(dir: string, platform: NodeJS.Platform, files: FileProbe): string[] {
  if (!dir.includes("*")) return [dir];
  const paths = pathsFor(platform);
  const root = paths.parse(dir).root;
  let bases = [root];
  for (const segment of dir.slice(root.length).split(/[\\/]/).filter((s) => s.length > 0)) {
    if (!segment.includes("*")) {
      bases = bases.map((base) => paths.join(base, segment));
      continue;
    }
    const pattern = wildcard(segment, platform);
    bases = bases.flatMap((base) =>
      [...files.listDir(base)]
        .filter((name) => pattern.test(name))
        .sort()
        .map((name) => paths.join(base, name)),
    );
  }
  return bases;
}

interface FoundLibraries {
  loadable: string[];
  build32: string[];
}

/**
 * The locations that exist here, in table order, each library once: a copy or symlink of one already
 * found (same FileProbe identity, as discoverModules counts them) is dropped.
 */
function findLibraries(
  locations: LibraryLocation[],
  platform: NodeJS.Platform,
  files: FileProbe,
  seen = new Set<string>(),
): FoundLibraries {
  const found: FoundLibraries = { loadable: [], build32: [] };
  const paths = pathsFor(platform);
  for (const location of locations) {
    if (location.dir === undefined) continue;
    for (const dir of expandDir(location.dir, platform, files)) {
      const path = paths.join(dir, location.file);
      if (!files.exists(path)) continue;
      const identity = files.identity(path);
      if (seen.has(identity)) continue;
      seen.add(identity);
      (location.build32 ? found.build32 : found.loadable).push(path);
    }
  }
  return found;
}

/**
 * Which of a model's found SKF builds to load. Its own architecture's first; a 32-bit build is the same
 * vendor driver for the same keys, so it is used only where no native one is installed and this installation
 * has a 32-bit driver runtime (support/runtimes.ts) — most 一证通 keys' drivers exist as 32-bit builds only.
 */
function usableSkf(found: FoundLibraries, runs32: boolean): FoundLibraries {
  if (found.loadable.length > 0 || !runs32) return found;
  return { loadable: found.build32, build32: [] };
}

/** True where the installation ships a 32-bit driver runtime (the Windows installer does). */
function installationRuns32(platform: NodeJS.Platform): boolean {
  return platform === process.platform && driverRuntime("ia32") !== null;
}

function librariesOf(model: UsbKeyModel, platform: NodeJS.Platform): { skf: LibraryLocation[]; pkcs11: LibraryLocation[] } {
  const libraries = model.libraries[platform as keyof UsbKeyModel["libraries"]];
  return libraries ?? { skf: [], pkcs11: [] };
}

function installHint(model: UsbKeyModel, expectedFiles: string[]): string {
  const files = expectedFiles.length > 0 ? `（应安装 ${expectedFiles.join("、")}）` : "";
  return `${model.model}（${model.vendor.zh} ${model.vendor.en}，USB ${model.vendorId}）：${model.download}${files}`;
}

/** The table's model for one device, or undefined for anything that is not a known key (a mouse, a hub). */
export function modelOf(
  device: Pick<UsbDevice, "vendorId" | "productId">,
  models: readonly UsbKeyModel[] = USB_KEY_MODELS,
): UsbKeyModel | undefined {
  const vendorId = device.vendorId.toLowerCase();
  const productId = device.productId.toLowerCase();
  return models.find((model) => model.vendorId === vendorId && model.productIds.includes(productId));
}

/** Every inserted device the table knows, with which of its model's libraries are installed here. */
export function identifyUsbKeys(
  devices: UsbDevice[],
  platform: NodeJS.Platform = process.platform,
  files: FileProbe = realFiles,
  models: readonly UsbKeyModel[] = USB_KEY_MODELS,
  runs32: boolean = installationRuns32(platform),
): IdentifiedUsbKey[] {
  const identified: IdentifiedUsbKey[] = [];
  for (const device of devices) {
    const model = modelOf(device, models);
    if (model === undefined) continue;
    const { skf, pkcs11 } = librariesOf(model, platform);
    const foundSkf = usableSkf(findLibraries(skf, platform, files), runs32);
    const foundPkcs11 = findLibraries(pkcs11, platform, files);
    const expectedFiles = [...new Set([...skf, ...pkcs11].map((location) => location.file))];
    identified.push({
      modelId: model.id,
      model: model.model,
      vendor: `${model.vendor.zh} ${model.vendor.en}`,
      usb: { vendorId: device.vendorId, productId: device.productId, ...(device.serial !== undefined ? { serial: device.serial } : {}) },
      skfLibraries: foundSkf.loadable,
      pkcs11Libraries: foundPkcs11.loadable,
      build32Libraries: [...foundSkf.build32, ...foundPkcs11.build32],
      missingDriver: foundSkf.loadable.length === 0 && foundPkcs11.loadable.length === 0,
      expectedFiles,
      installHint: installHint(model, expectedFiles),
    });
  }
  return identified;
}

/**
 * Every loadable SKF library of a known model installed here, whether or not its key is plugged in: the
 * "known" SKF source of discovery. Table order; one path per library, as discoverModules dedupes.
 */
export function knownSkfLibraries(
  platform: NodeJS.Platform = process.platform,
  files: FileProbe = realFiles,
  models: readonly UsbKeyModel[] = USB_KEY_MODELS,
  runs32: boolean = installationRuns32(platform),
): string[] {
  const seen = new Set<string>();
  return models.flatMap((model) => usableSkf(findLibraries(librariesOf(model, platform).skf, platform, files, seen), runs32).loadable);
}
