/**
 * A minimal ZIP writer (stored directory tree, deflated files) for packaging the extension as .zip
 * (Chrome Web Store / enterprise) and .xpi (Firefox). Node ships deflate and CRC-32; that is all ZIP needs.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { crc32, deflateRawSync } from "node:zlib";

interface Entry {
  name: Buffer;
  crc: number;
  size: number;
  compressed: Buffer;
  method: number;
  offset: number;
}

function listFiles(root: string, dir = root): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? listFiles(root, path) : [path];
    });
}

/** The fields local and central headers share, in the same order, starting at `at`. */
function writeEntryFields(header: Buffer, at: number, entry: Entry): void {
  header.writeUInt16LE(entry.method, at);
  header.writeUInt16LE(DOS_TIME, at + 2);
  header.writeUInt16LE(DOS_DATE, at + 4);
  header.writeUInt32LE(entry.crc, at + 6);
  header.writeUInt32LE(entry.compressed.length, at + 10);
  header.writeUInt32LE(entry.size, at + 14);
  header.writeUInt16LE(entry.name.length, at + 18);
}

/** Fixed timestamp (1 Jan 2026) so the same input gives byte-identical archives. */
const DOS_TIME = 0;
const DOS_DATE = ((2026 - 1980) << 9) | (1 << 5) | 1;

/** The archive of every file under root, names sorted, as bytes. */
export function zipDirectoryBytes(root: string): Buffer {
  const parts: Buffer[] = [];
  const entries: Entry[] = [];
  let offset = 0;
  for (const file of listFiles(root)) {
    const data = readFileSync(file);
    const name = Buffer.from(relative(root, file).split(sep).join("/"), "utf8");
    const deflated = deflateRawSync(data, { level: 9 });
    const useDeflate = deflated.length < data.length;
    const entry: Entry = { name, crc: crc32(data), size: data.length, compressed: useDeflate ? deflated : data, method: useDeflate ? 8 : 0, offset };
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(0x0800, 6); // UTF-8 names
    writeEntryFields(header, 8, entry);
    parts.push(header, name, entry.compressed);
    offset += header.length + name.length + entry.compressed.length;
    entries.push(entry);
  }
  const centralStart = offset;
  for (const entry of entries) {
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    writeEntryFields(header, 10, entry);
    header.writeUInt32LE(entry.offset, 42);
    parts.push(header, entry.name);
    offset += header.length + entry.name.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(offset - centralStart, 12);
  end.writeUInt32LE(centralStart, 16);
  parts.push(end);
  return Buffer.concat(parts);
}

export function zipDirectory(root: string, output: string): void {
  writeFileSync(output, zipDirectoryBytes(root));
}
