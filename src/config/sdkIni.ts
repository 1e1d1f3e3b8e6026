/**
 * The SDK's INI rules (`parseIni` and the config file's section naming in `@smithy/core/config`, which
 * `@smithy/shared-ini-file-loader` re-exports), reproduced line for line: loading the SDK's own module costs a
 * `credential-process` cache hit most of its start-up (it pulls in `@smithy/core`'s client, transport and schema
 * parts), and a hit must answer in about the time Node takes to start. Everything else parses with the SDK's loader
 * (./awsConfig.ts); test/sdk-ini.test.ts checks the two agree on every shape of file.
 */
import type { ParsedIni } from "./configSections.js";

const PREFIXED_SECTION = /^([\w-]+)\s(["'])?([\w-@+.%:/]+)\2$/;
const SECTION_TYPES = ["profile", "sso-session", "services"];
const BLOCKED_NAMES = ["__proto__", "profile __proto__"];

/**
 * An INI file's sections and keys exactly as the SDK's `parseIni` reads them: comments (`#`, `;` at a line's start
 * or after a space) dropped, `[profile x]` as `profile.x`, a key with an empty value opening a sub-section whose
 * indented keys become `parent.key`. Throws on a `[__proto__]` section, as the SDK does.
 *
 * @example
 * ```ts
 * parseIniAsSdk("[profile dev]\nregion = eu-west-1\n"); // { "profile.dev": { region: "eu-west-1" } }
 * ```
 */
export function parseIniAsSdk(text: string): ParsedIni {
  const map: ParsedIni = Object.create(null) as ParsedIni;
  let section: string | undefined;
  let subSection: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = (line.split(/(^|\s)[;#]/)[0] as string).trim();
    if (trimmed[0] === "[" && trimmed[trimmed.length - 1] === "]") {
      section = undefined;
      subSection = undefined;
      const name = trimmed.substring(1, trimmed.length - 1);
      const m = PREFIXED_SECTION.exec(name);
      if (m) {
        if (SECTION_TYPES.includes(m[1] as string)) section = `${m[1]}.${m[3]}`;
      } else {
        section = name;
      }
      if (BLOCKED_NAMES.includes(name)) throw new Error(`Found invalid profile name "${name}"`);
    } else if (section) {
      const eq = trimmed.indexOf("=");
      if (eq > 0) {
        const key = trimmed.substring(0, eq).trim();
        const value = trimmed.substring(eq + 1).trim();
        if (value === "") {
          subSection = key;
        } else {
          if (subSection && line.trimStart() === line) subSection = undefined;
          const entries = (map[section] ??= {});
          entries[subSection ? `${subSection}.${key}` : key] = value;
        }
      }
    }
  }
  return { ...map };
}

/**
 * The config file's sections as the SDK's loader returns them (`configFile` of `loadSharedConfigFiles`):
 * `profile.x` becomes `x` (and wins over a bare `[default]` for `default`), `sso-session.x` and `services.x` stay,
 * and any other section is dropped.
 *
 * @example
 * ```ts
 * configFileAsSdk(parseIniAsSdk(text)).dev?.region;
 * ```
 */
export function configFileAsSdk(parsed: ParsedIni): ParsedIni {
  const out: ParsedIni = parsed.default ? { default: parsed.default } : {};
  for (const [key, value] of Object.entries(parsed)) {
    const dot = key.indexOf(".");
    if (dot === -1) continue;
    const type = key.substring(0, dot);
    if (!SECTION_TYPES.includes(type)) continue;
    out[type === "profile" ? key.substring(dot + 1) : key] = value;
  }
  return out;
}
