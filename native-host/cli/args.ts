/** Minimal `--flag value` / `--flag=value` / boolean flag parsing for the CLI. */
import { YztError } from "../../protocol/errors.js";

export interface ParsedArgs {
  command: string | undefined;
  options: Map<string, string | true>;
}

export function parseArgs(argv: string[], booleanFlags: ReadonlySet<string>): ParsedArgs {
  const options = new Map<string, string | true>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      if (command !== undefined) throw new YztError("BAD_REQUEST", `unexpected argument "${arg}"`);
      command = arg;
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (booleanFlags.has(name)) options.set(name, true);
    else if (inline !== undefined) options.set(name, inline);
    else {
      const value = argv[++i];
      if (value === undefined) throw new YztError("BAD_REQUEST", `--${name} needs a value`);
      options.set(name, value);
    }
  }
  return { command, options };
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.options.get(name);
  return typeof value === "string" ? value : undefined;
}

export function requiredOption(args: ParsedArgs, name: string): string {
  const value = stringOption(args, name);
  if (value === undefined) throw new YztError("BAD_REQUEST", `--${name} is required`);
  return value;
}
