import type { LoadedAwsConfig, ProfileSection } from "../config/awsConfig.js";

/**
 * The sections a profile's credentials depend on: the profile, its `source_profile`, that one's, and so on (stopping
 * at a missing profile or a loop). Pure and cheap — no source is built — so a cache can be keyed on what decides the
 * credential before anything is set up.
 */
export function profileChainSections(
  name: string,
  config: LoadedAwsConfig,
): { name: string; section: ProfileSection }[] {
  const out: { name: string; section: ProfileSection }[] = [];
  const seen = new Set<string>();
  let current: string | undefined = name;
  while (current !== undefined && !seen.has(current)) {
    seen.add(current);
    const section = config.profiles.get(current);
    if (section === undefined) break;
    out.push({ name: current, section });
    const next: string | undefined = section.source_profile;
    current = next === current ? undefined : next;
  }
  return out;
}
