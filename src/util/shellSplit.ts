/**
 * Splits a command line into words as Python's `shlex.split` does (POSIX mode, no comments): what botocore, and so the
 * AWS CLI and boto3, do with a profile's `credential_process` before running it without a shell. Whitespace separates
 * words; single quotes keep everything literally; double quotes keep everything but `\` before `\` or `"` (shlex is
 * not a shell: `\$` stays as it is); a backslash outside quotes keeps the next character. No variables are expanded, no globs, no pipes.
 * Throws a `SyntaxError` for an unterminated quote or a trailing backslash.
 *
 * @example
 * ```ts
 * shellSplit(`aws-refresh credential-process --profile "ml base"`); // ["aws-refresh", "credential-process", "--profile", "ml base"]
 * ```
 */
export function shellSplit(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && i + 1 < line.length && (line[i + 1] === "\\" || line[i + 1] === '"')) word += line[++i];
      else word += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 >= line.length) throw new SyntaxError("the command line ends with a lone backslash");
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new SyntaxError(`the command line has an unterminated ${quote === "'" ? "single" : "double"} quote`);
  if (inWord) words.push(word);
  return words;
}
