/**
 * PIN entry for the CLI: a no-echo prompt on the terminal, or the first line of stdin with --pin-stdin.
 * Never from argv, where other users could read it from the process list.
 */
import { YztError } from "../../protocol/errors.js";

export async function readLineFromStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) {
    text += String(chunk);
    const newline = text.indexOf("\n");
    if (newline >= 0) return text.slice(0, newline).replace(/\r$/, "");
  }
  return text;
}

export async function promptHidden(question: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) throw new YztError("BAD_REQUEST", "no terminal to ask for the PIN: use --pin-stdin");
  process.stderr.write(question);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = "";
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString("utf8")) {
        if (char === "\r" || char === "\n") return finish(() => resolve(typed));
        if (char === "\u0003") return finish(() => reject(new YztError("USER_CANCELLED", "cancelled")));
        if (char === "\u007f" || char === "\b") typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    const finish = (settle: () => void) => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write("\n");
      settle();
    };
    input.on("data", onData);
  });
}

/** Reads `count` PINs: from stdin lines (one per line) or from hidden prompts. */
export async function readPins(prompts: string[], fromStdin: boolean): Promise<string[]> {
  if (!fromStdin) {
    const pins: string[] = [];
    for (const prompt of prompts) pins.push(await promptHidden(prompt));
    return pins;
  }
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  const lines = text.split(/\r?\n/);
  if (lines.length < prompts.length || lines.slice(0, prompts.length).some((l) => l.length === 0)) {
    throw new YztError("BAD_REQUEST", `--pin-stdin expects ${prompts.length} line(s) on stdin`);
  }
  return lines.slice(0, prompts.length);
}
