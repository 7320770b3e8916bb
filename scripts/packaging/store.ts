/**
 * The extension as the stores take it (the release workflow uploads these by hand or by API):
 *   yzt-bridge-store-<v>.zip   Chrome Web Store and Microsoft Edge Add-ons: the Chrome build without the
 *                              manifest `key` (the stores refuse it and assign their own id, which then
 *                              goes into packaging/extension-ids.json so the host allows it)
 *   yzt-bridge-360-<v>.crx     the 360 extension platform (360安全浏览器, 360极速浏览器): the signed CRX3
 * The Firefox .xpi is signed by Mozilla in the release workflow and shipped as it is.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipDirectoryBytes } from "../../native-host/install/zip.js";

export interface StorePackages {
  storeZip: { name: string; bytes: Buffer };
  qihoo360Crx: { name: string; bytes: Buffer };
}

/** The Chrome build zipped without its manifest `key`. */
function keylessZip(chromeBuild: string): Buffer {
  const copy = mkdtempSync(join(tmpdir(), "yzt-store-"));
  try {
    cpSync(chromeBuild, copy, { recursive: true });
    const manifestPath = join(copy, "manifest.json");
    const { key: _key, ...manifest } = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, unknown>;
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
    return zipDirectoryBytes(copy);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export function storePackages(root: string, version: string, crx: Buffer): StorePackages {
  return {
    storeZip: { name: `yzt-bridge-store-${version}.zip`, bytes: keylessZip(join(root, "dist", "extension-chrome")) },
    qihoo360Crx: { name: `yzt-bridge-360-${version}.crx`, bytes: crx },
  };
}
