/**
 * The packaging pieces that need no root and no package tools: the CRX3 file read back by an independent
 * parser and its signature checked, the maintainer scripts' removal order, the macOS tree, the store uploads,
 * the Windows installer's install records, and which files the demo's download list serves.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildCrx3, manifestKeyOf } from "../../scripts/packaging/crx3.js";
import { afterInstallCommands, installCommand, removalCommands, removeCommand } from "../../scripts/packaging/maintainer-scripts.js";
import { stageMacTree } from "../../scripts/packaging/macos.js";
import { chromeExtensionIdFromKey } from "../../native-host/install/host-manifest.js";
import { packageRoot } from "../../native-host/install/paths.js";
import { classify, listDownloads, readDownload } from "../../demo/packages.js";
import { DEVELOPMENT_KEY } from "../../scripts/package.js";
import { windowsInstallRecord } from "../../scripts/packaging/nsis.js";
import { storePackages } from "../../scripts/packaging/store.js";
import { isWindowsBinary } from "../../scripts/packaging/windows-payload.js";
import { publishedIds } from "../../native-host/install/extension-ids.js";
import { inflateRawSync } from "node:zlib";

const work = mkdtempSync(join(tmpdir(), "yzt-packaging-unit-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A protobuf reader of our own: field number → list of length-delimited values. */
function readFields(bytes: Buffer): Map<number, Buffer[]> {
  const fields = new Map<number, Buffer[]>();
  let at = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 1; ; shift *= 128) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * shift;
      if (byte < 0x80) return value;
    }
  };
  while (at < bytes.length) {
    const tag = varint();
    expect(tag & 7).toBe(2);
    const length = varint();
    const number = Math.floor(tag / 8);
    fields.set(number, [...(fields.get(number) ?? []), bytes.subarray(at, at + length)]);
    at += length;
  }
  return fields;
}

describe("CRX3", () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const zip = Buffer.from("PK\x03\x04 pretend archive bytes", "latin1");
  const crx = buildCrx3(zip, pem);

  it("is Cr24 v3 with a header whose key proof verifies over the signed data and the ZIP", () => {
    expect(crx.subarray(0, 4).toString("latin1")).toBe("Cr24");
    expect(crx.readUInt32LE(4)).toBe(3);
    const headerLength = crx.readUInt32LE(8);
    const header = readFields(crx.subarray(12, 12 + headerLength));
    expect(crx.subarray(12 + headerLength)).toEqual(zip);
    const [proof] = header.get(2)!;
    const [signedData] = header.get(10000)!;
    const proofFields = readFields(proof!);
    const spki = proofFields.get(1)![0]!;
    const signature = proofFields.get(2)![0]!;
    const length = Buffer.alloc(4);
    length.writeUInt32LE(signedData!.length);
    const message = Buffer.concat([Buffer.from("CRX3 SignedData\0", "latin1"), length, signedData!, zip]);
    expect(verify("sha256", message, createPublicKey({ key: spki, format: "der", type: "spki" }), signature)).toBe(true);
    // crx_id: the extension id in binary — the same id Chrome derives from the manifest key.
    const crxId = readFields(signedData!).get(1)![0]!;
    expect(crxId).toEqual(createHash("sha256").update(spki).digest().subarray(0, 16));
    const idLetters = [...crxId.toString("hex")].map((hex) => String.fromCharCode(97 + parseInt(hex, 16))).join("");
    expect(idLetters).toBe(chromeExtensionIdFromKey(manifestKeyOf(pem)));
  });

  it("a changed ZIP no longer matches the signature", () => {
    const headerLength = crx.readUInt32LE(8);
    const proof = readFields(readFields(crx.subarray(12, 12 + headerLength)).get(2)![0]!);
    const signedData = readFields(crx.subarray(12, 12 + headerLength)).get(10000)![0]!;
    const length = Buffer.alloc(4);
    length.writeUInt32LE(signedData.length);
    const tampered = Buffer.concat([Buffer.from("CRX3 SignedData\0", "latin1"), length, signedData, Buffer.from("PK\x03\x04 other bytes")]);
    expect(verify("sha256", tampered, createPublicKey({ key: proof.get(1)![0]!, format: "der", type: "spki" }), proof.get(2)![0]!)).toBe(false);
  });

  it("the development signing key is the key in manifest.json, so the packaged CRX keeps the extension id", () => {
    const manifest = JSON.parse(readFileSync(join(packageRoot(), "manifest.json"), "utf8")) as Record<string, string>;
    expect(manifestKeyOf(readFileSync(join(packageRoot(), DEVELOPMENT_KEY), "utf8"))).toBe(manifest["{{chrome}}.key"]);
  });

  it("refuses a key that is not RSA", () => {
    const { privateKey: ec } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    expect(() => buildCrx3(zip, ec.export({ type: "pkcs8", format: "pem" }).toString())).toThrow(/RSA/);
  });
});

describe("maintainer scripts", () => {
  it("remove the /etc manifests, then their directories deepest first, never /etc or /etc/opt", () => {
    const commands = removalCommands({
      etcRegistrations: [
        { source: "/opt/yzt-bridge/native-messaging-hosts/chromium.json", target: "/etc/opt/chrome/native-messaging-hosts/h.json" },
        { source: "/opt/yzt-bridge/native-messaging-hosts/chromium.json", target: "/etc/chromium/native-messaging-hosts/h.json" },
      ],
      profileFiles: [],
    }).split("\n");
    expect(commands.slice(0, 2)).toEqual(["rm -f '/etc/opt/chrome/native-messaging-hosts/h.json'", "rm -f '/etc/chromium/native-messaging-hosts/h.json'"]);
    const dirs = commands.flatMap((line) => /^rmdir '([^']+)'/.exec(line)?.[1] ?? []);
    expect(dirs).toEqual(["/etc/opt/chrome/native-messaging-hosts", "/etc/chromium/native-messaging-hosts", "/etc/opt/chrome", "/etc/chromium"]);
  });

  it("install Firefox's system policy only where no administrator's file is in the way, and remove it only while it is still theirs", () => {
    const dir = join(work, "etc-firefox");
    const source = join(dir, "ours.json");
    const target = join(dir, "policies", "policies.json");
    mkdirSync(dir, { recursive: true });
    writeFileSync(source, '{"policies":{"ExtensionSettings":{}}}\n');
    const registration = { source, target, ownedIfSha256: createHash("sha256").update(readFileSync(source)).digest("hex") };
    const sh = (script: string) => execFileSync("sh", ["-ec", script], { encoding: "utf8" });
    sh(installCommand(registration));
    expect(readFileSync(target, "utf8")).toBe(readFileSync(source, "utf8"));
    sh(removeCommand(registration));
    expect(existsSync(target)).toBe(false);
    // An administrator's policies stay as they are, through install and removal, and the install says what to add.
    writeFileSync(target, '{"policies":{"DisableTelemetry":true}}\n');
    expect(sh(installCommand(registration))).toContain("ExtensionSettings");
    sh(removeCommand(registration));
    expect(readFileSync(target, "utf8")).toBe('{"policies":{"DisableTelemetry":true}}\n');
  });

  it("put the profile files into every existing 360 and 奇安信 profile as the home's owner, only where none or ours is, and remove only ours", () => {
    const files = { etcRegistrations: [], profileFiles: [{ source: "/opt/yzt-bridge/x.json", path: "External Extensions/id.json", sha256: "ab".repeat(32) }] };
    const install = afterInstallCommands(files);
    // Root only picks the homes and their owners; every path inside a home is resolved as its owner.
    expect(install).toContain("for home in /root /home/*; do");
    expect(install).toContain('if [ "$home" != /root ] && [ "$owner" = root ]; then continue; fi');
    expect(install).toContain(`runuser -u "$owner" -- sh -c 'for name in com.360.browser qaxbrowser; do p="$1/.config/$name"; if [ -d "$p" ] && [ ! -L "$p" ]; then t="$p/External Extensions/id.json"; if [ ! -e "$t" ] || echo "${"ab".repeat(32)}  $t" | sha256sum -c --status 2>/dev/null; then`);
    const removal = removalCommands(files);
    expect(removal).toContain(`if echo "${"ab".repeat(32)}  $t" | sha256sum -c --status 2>/dev/null; then rm -f "$t";`);
  });
});

describe("macOS tree", () => {
  it("registers the host for every browser and offers the extension from Chrome's and Edge's stores", () => {
    const stage = join(work, "mac");
    const tree = stageMacTree({ root: packageRoot(), stage, version: "9.9.9", node: process.execPath, sourceDateEpoch: 1_767_225_600 });
    for (const dir of ["/Library/Google/Chrome/NativeMessagingHosts", "/Library/Microsoft/Edge/NativeMessagingHosts", "/Library/Application Support/Mozilla/NativeMessagingHosts"]) {
      const manifest = JSON.parse(readFileSync(join(stage, dir, "org.yztbridge.host.json"), "utf8")) as { path: string };
      expect(manifest.path).toBe("/Library/Application Support/yzt-bridge/yzt-host");
    }
    const external = JSON.parse(readFileSync(join(stage, "/Library/Application Support/Google/Chrome/External Extensions", `${tree.chromeId}.json`), "utf8")) as Record<string, string>;
    expect(external).toEqual({ external_update_url: "https://clients2.google.com/service/update2/crx" });
    expect(readFileSync(join(stage, "/Library/Application Support/yzt-bridge/yzt-host"), "utf8")).toContain("/Library/Application Support/yzt-bridge/dist/host/main.js");
    expect(JSON.parse(readFileSync(join(stage, "/Library/Application Support/yzt-bridge/package.json"), "utf8"))).toMatchObject({ name: "yzt-bridge", version: "9.9.9" });
  });
});

describe("demo downloads", () => {
  it("serve only the packager's file names, with their checksums", () => {
    const dir = join(work, "downloads");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    writeFileSync(join(dir, "yzt-bridge_1.2.3_amd64.deb"), "deb");
    writeFileSync(join(dir, "secret.pem"), "no");
    writeFileSync(join(dir, "SHA256SUMS"), `${createHash("sha256").update("deb").digest("hex")}  yzt-bridge_1.2.3_amd64.deb\n`);
    expect(listDownloads(dir)).toEqual([{ name: "yzt-bridge_1.2.3_amd64.deb", kind: "deb", version: "1.2.3", size: 3, sha256: createHash("sha256").update("deb").digest("hex") }]);
    expect(readDownload(dir, "secret.pem")).toBeNull();
    expect(readDownload(dir, "../package.json")).toBeNull();
    expect(classify("yzt-bridge_1.2.3_setup.exe")).toEqual({ kind: "windows", version: "1.2.3" });
    expect(classify("yzt-bridge_1.2.3_arm64.deb")).toEqual({ kind: "deb-arm64", version: "1.2.3" });
    expect(classify("yzt-bridge_1.2.3_amd64.deb.bak")).toBeNull();
    expect(classify("yzt-bridge_1.2.3_mips64el.deb")).toBeNull();
  });
});

/** The named entry of a ZIP (stored or deflated), read through its local header. */
function zipEntry(zip: Buffer, name: string): Buffer | null {
  for (let at = 0; zip.readUInt32LE(at) === 0x04034b50; ) {
    const method = zip.readUInt16LE(at + 8);
    const size = zip.readUInt32LE(at + 18);
    const nameLength = zip.readUInt16LE(at + 26);
    const extra = zip.readUInt16LE(at + 28);
    const entryName = zip.subarray(at + 30, at + 30 + nameLength).toString("utf8");
    const data = zip.subarray(at + 30 + nameLength + extra, at + 30 + nameLength + extra + size);
    if (entryName === name) return method === 8 ? inflateRawSync(data) : data;
    at += 30 + nameLength + extra + size;
  }
  return null;
}

describe("store packages", () => {
  it("upload the Chrome build without its manifest key (the stores refuse it) and give 360 the signed CRX", () => {
    const crx = Buffer.from("signed crx bytes");
    const store = storePackages(packageRoot(), "1.2.3", crx);
    expect(store.storeZip.name).toBe("yzt-bridge-store-1.2.3.zip");
    const manifest = JSON.parse(zipEntry(store.storeZip.bytes, "manifest.json")!.toString("utf8")) as Record<string, unknown>;
    expect(manifest.key).toBeUndefined();
    expect(manifest.manifest_version).toBe(3);
    expect(store.qihoo360Crx).toEqual({ name: "yzt-bridge-360-1.2.3.crx", bytes: crx });
  });
});

describe("Windows installer records", () => {
  it("name the installer's registry keys per scope, with paths relative to the install folder", () => {
    const ids = publishedIds(packageRoot(), { env: {} });
    const user = windowsInstallRecord("user", ids);
    expect(user).toMatchObject({ scope: "user", platform: "win32", launcher: "yzt-host.bat", node: "node.exe", entry: "dist\\host\\main.js", chromeId: ids.chrome });
    expect(user.browsers.map((b) => [b.browser, b.manifestPath])).toEqual([
      ["chrome", "yzt-bridge-chromium.json"], ["chromium", "yzt-bridge-chromium.json"], ["edge", "yzt-bridge-chromium.json"], ["brave", "yzt-bridge-chromium.json"], ["firefox", "yzt-bridge-firefox.json"],
    ]);
    expect(user.browsers[0]!.registryKeys).toEqual(["HKEY_CURRENT_USER\\Software\\Google\\Chrome\\NativeMessagingHosts\\org.yztbridge.host"]);
    expect(windowsInstallRecord("system", ids).browsers[4]!.registryKeys).toEqual([
      "HKEY_LOCAL_MACHINE\\Software\\Mozilla\\NativeMessagingHosts\\org.yztbridge.host",
      "HKEY_LOCAL_MACHINE\\Software\\WOW6432Node\\Mozilla\\NativeMessagingHosts\\org.yztbridge.host",
    ]);
  });

  it("tell a Windows binary (MZ) from this machine's own", () => {
    const exe = join(work, "fake.exe");
    writeFileSync(exe, Buffer.from("MZ\x90\x00"));
    expect(isWindowsBinary(exe)).toBe(true);
    expect(isWindowsBinary(process.execPath)).toBe(false);
  });
});
