/**
 * A list of every key of `T`, checked at compile time both ways: a key listed that `T` lacks is an error, and so is a
 * key of `T` left out (the type then asks for a `missing` property naming it). Lets an options check refuse unknown
 * keys without a list that silently drifts from the interface.
 *
 * @example
 * ```ts
 * const KEYS = allKeys<{ a?: number; b?: string }>()(["a", "b"]);
 * ```
 */
export function allKeys<T>() {
  return <const K extends readonly (keyof T)[]>(
    keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, K[number]> }),
  ): readonly string[] => keys as readonly string[];
}

/** The known key closest to `key` (a typo one or two edits away), for a "did you mean" hint. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const a = key.toLowerCase();
    const b = k.toLowerCase();
    // `advisory` for `advisoryMs`: a prefix of a known key counts as one edit away.
    const d = a.length >= 4 && b.startsWith(a) ? 1 : editDistance(a, b);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/** Throws a TypeError naming every key of `options` not in `known`, with a suggestion where one is near. */
export function refuseUnknownKeys(options: object, known: readonly string[], where: string): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length === 0) return;
  const parts = unknown.map((k) => {
    const near = closestKey(k, known);
    return `\`${k}\`${near ? ` (did you mean \`${near}\`?)` : ""}`;
  });
  throw new TypeError(
    `Unknown option${unknown.length > 1 ? "s" : ""} ${parts.join(", ")} ${where}; known: ${known.join(", ")}`,
  );
}
