import { RefreshSessionError } from "../errors.js";

const SECTION = /^\[(.+)\]/;
const OPTION = /^(.*?)\s*[=:]/;

/**
 * Checks an AWS config or credentials file's text as botocore reads it (Python's `configparser` in strict mode), so a
 * file the AWS CLI and boto3 would refuse with `ConfigParseError` is refused here too, instead of being merged
 * silently: the same section twice in one file, the same key twice in one section (keys compare case-insensitively,
 * as configparser lowercases them), a key before the first section, a line that is neither a `[section]`, a
 * `key = value` (or `key: value`), a comment nor a continuation (a line indented deeper than its key's), a UTF-8 byte
 * order mark (botocore reads it as text before the first section). Throws `CONFIG_INVALID` naming the file,
 * the line and the section, never a value. Returns the section names (the text between the brackets), in order: the
 * SDK's parser drops sections without keys, which botocore keeps.
 */
export function checkIniText(text: string, file: string): string[] {
  const fail = (line: number, what: string, fix: string): never => {
    throw new RefreshSessionError(
      "CONFIG_INVALID",
      `${file}, line ${line}: ${what}. The AWS CLI and boto3 refuse this file (ConfigParseError); ${fix}.`,
    );
  };
  const seen = new Map<string, number>();
  let section: string | undefined;
  let keys = new Map<string, number>();
  let inValue = false;
  /** Where the current key's line starts its text: deeper lines continue its value, as configparser has it. */
  let valueIndent = 0;
  if (text.startsWith("\ufeff")) {
    fail(
      1,
      "the file starts with a UTF-8 byte order mark (BOM), which the AWS CLI reads as text before the first [section]",
      "save it as UTF-8 without a BOM",
    );
  }
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const n = i + 1;
    const stripped = raw.trim();
    if (stripped === "") {
      continue;
    }
    if (stripped.startsWith("#") || stripped.startsWith(";")) continue;
    const indent = raw.search(/\S/);
    if (inValue && indent > valueIndent) continue; // a continuation line (or a nested `key = value` under `s3 =`)
    const header = SECTION.exec(stripped);
    if (header) {
      const name = header[1] as string;
      const first = seen.get(name);
      if (first !== undefined) {
        fail(n, `section [${name}] is given a second time (first at line ${first})`, "merge the two sections into one");
      }
      seen.set(name, n);
      section = name;
      keys = new Map();
      inValue = false;
      continue;
    }
    if (section === undefined) {
      fail(n, "this line comes before any [section] header", "put it under a section such as [default]");
    }
    const option = OPTION.exec(stripped);
    if (!option || (option[1] as string).trim() === "") {
      fail(n, `in section [${section}], this line is neither \`key = value\` nor a comment`, "fix or remove the line");
    }
    const key = (option?.[1] as string).trim().toLowerCase();
    const first = keys.get(key);
    if (first !== undefined) {
      fail(
        n,
        `in section [${section}], \`${key}\` is given a second time (first at line ${first})`,
        "keep one of the two",
      );
    }
    keys.set(key, n);
    inValue = true;
    valueIndent = indent;
  }
  return [...seen.keys()];
}
