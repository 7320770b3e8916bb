/**
 * Tiny runtime schema checker. The protocol is declared once with these schemas, and both the extension and
 * the host validate every message with them; TypeScript types are inferred from the schemas so the two can
 * never drift apart. Failures are BAD_REQUEST errors that name the offending field.
 */
import { badRequest } from "./errors.js";

export interface Schema<T> {
  /** Returns the checked value or throws BAD_REQUEST mentioning `path`. */
  parse(value: unknown, path?: string): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `a string of length ${value.length}` : `a ${typeof value}`;
}

function fail(path: string, expected: string, value: unknown): never {
  throw badRequest(`${path}: expected ${expected}, got ${describe(value)}`);
}

export interface StringRules {
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** Human description of the pattern used in error messages. */
  patternName?: string;
}

export function string(rules: StringRules = {}): Schema<string> {
  const { min = 0, max = 4096, pattern, patternName } = rules;
  return {
    parse(value, path = "value") {
      if (typeof value !== "string") fail(path, "a string", value);
      if (value.length < min || value.length > max) fail(path, `a string of length ${min}..${max}`, value);
      if (pattern && !pattern.test(value)) throw badRequest(`${path}: not ${patternName ?? `matching ${pattern}`}`);
      return value;
    },
  };
}

/**
 * The base64 alphabet, then at most two "=" at the very end. A single character class under one star and no
 * nested group: V8 runs it as a linear scan without backtracking or recursion, on up to 64 MiB (the old
 * grouped pattern `(?:[…]{4})*` overflowed the regular-expression stack from a few MB, in the page path and
 * the host). Whole 4-character groups are checked by length.
 */
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;

/** Before "==" only 4 bits of the last character are data, before "=" only 2: the rest must be zero. */
const LAST_BEFORE_TWO_PADS = "AQgw";
const LAST_BEFORE_ONE_PAD = "AEIMQUYcgkosw048";

/**
 * Canonical padded base64: whole 4-character groups, the alphabet only, "=" only as one or two final
 * characters, and zero bits under the padding (what every encoder writes, and what the browsers' strict
 * decoders demand), so the page, the background and the host accept exactly the same texts.
 */
export function isBase64(text: string): boolean {
  if (text.length % 4 !== 0 || !BASE64_TEXT.test(text)) return false;
  if (text.endsWith("==")) return LAST_BEFORE_TWO_PADS.includes(text.charAt(text.length - 3));
  if (text.endsWith("=")) return LAST_BEFORE_ONE_PAD.includes(text.charAt(text.length - 2));
  return true;
}

/** Decoded size of padded base64 that passed isBase64. */
export function base64ByteLength(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/** Canonical base64 (with padding) decoding to at most `maxBytes` bytes. */
export function base64(maxBytes: number, minBytes = 0): Schema<string> {
  const maxChars = Math.ceil(maxBytes / 3) * 4;
  return {
    parse(value, path = "value") {
      if (typeof value !== "string") fail(path, "a base64 string", value);
      if (value.length > maxChars) throw badRequest(`${path}: larger than ${maxBytes} bytes`);
      if (!isBase64(value)) throw badRequest(`${path}: not valid base64`);
      const bytes = base64ByteLength(value);
      if (bytes < minBytes) throw badRequest(`${path}: shorter than ${minBytes} bytes`);
      if (bytes > maxBytes) throw badRequest(`${path}: larger than ${maxBytes} bytes`);
      return value;
    },
  };
}

export function literal<const T extends string | number | boolean>(...allowed: T[]): Schema<T> {
  return {
    parse(value, path = "value") {
      if (!(allowed as unknown[]).includes(value)) fail(path, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`, value);
      return value as T;
    },
  };
}

export function integer(min: number, max: number): Schema<number> {
  return {
    parse(value, path = "value") {
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        fail(path, `an integer in ${min}..${max}`, value);
      }
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    parse(value, path = "value") {
      if (typeof value !== "boolean") fail(path, "a boolean", value);
      return value;
    },
  };
}

export function array<T>(item: Schema<T>, maxItems = 1000): Schema<T[]> {
  return {
    parse(value, path = "value") {
      if (!Array.isArray(value)) fail(path, "an array", value);
      if (value.length > maxItems) throw badRequest(`${path}: more than ${maxItems} items`);
      return value.map((entry, index) => item.parse(entry, `${path}[${index}]`));
    },
  };
}

/** Marks an object member as optional; `undefined` passes, anything else must match. */
export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return {
    optional: true,
    parse(value, path) {
      return value === undefined ? undefined : inner.parse(value, path);
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & {
  [K in OptionalKeys<S>]?: Infer<S[K]>;
};

/** A plain object with exactly these members: unknown members are refused so typos surface. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  return {
    parse(value, path = "value") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "an object", value);
      // Only plain data: an object whose prototype was swapped (a "__proto__" member after a copy) is refused.
      const prototype = Object.getPrototypeOf(value) as unknown;
      if (prototype !== Object.prototype && prototype !== null) fail(path, "a plain object", value);
      const input = value as Record<string, unknown>;
      for (const key of Object.keys(input)) {
        if (!Object.hasOwn(shape, key)) throw badRequest(`${path}.${key}: unknown field`);
      }
      const output: Record<string, unknown> = {};
      for (const [key, schema] of Object.entries(shape)) {
        const parsed = schema.parse(input[key], `${path}.${key}`);
        if (parsed !== undefined) output[key] = parsed;
      }
      return output as ObjectOf<S>;
    },
  };
}

/** Adds a cross-field rule to an object schema. */
export function refine<T>(inner: Schema<T>, check: (value: T, path: string) => void): Schema<T> {
  return {
    parse(value, path = "value") {
      const parsed = inner.parse(value, path);
      check(parsed, path);
      return parsed;
    },
  };
}
