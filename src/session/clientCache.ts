/** Largest number of clients a session keeps before evicting the least recently used. */
export const DEFAULT_CLIENT_CACHE_SIZE = 64;

/** Anything with a `destroy()`, as every SDK v3 client has. */
export interface Destroyable {
  destroy(): void;
}

/**
 * A least-recently-used cache of SDK clients keyed by class and configuration. Evicted clients are destroyed so their
 * sockets close. Internal to the session.
 */
export class ClientCache {
  readonly #max: number;
  readonly #entries = new Map<string, Destroyable>();
  readonly #ids = new WeakMap<object, number>();
  #nextId = 1;

  constructor(maxSize: number = DEFAULT_CLIENT_CACHE_SIZE) {
    this.#max = maxSize;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A stable key: class identity plus the config, with objects that are not plain data keyed by identity. */
  key(ctor: object, config: object | undefined): string {
    return `${this.#idOf(ctor)}:${this.#serialize(config)}`;
  }

  get(key: string): Destroyable | undefined {
    const hit = this.#entries.get(key);
    if (hit) {
      // Refresh its position: a Map iterates in insertion order, so the first entry is the least recently used.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, client: Destroyable): void {
    this.#entries.set(key, client);
    while (this.#entries.size > this.#max) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Destroyable];
      this.#entries.delete(oldestKey);
      oldest.destroy();
    }
  }

  clear(): void {
    for (const client of this.#entries.values()) client.destroy();
    this.#entries.clear();
  }

  #idOf(obj: object): number {
    let id = this.#ids.get(obj);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(obj, id);
    }
    return id;
  }

  #serialize(value: unknown): string {
    if (value === undefined) return "u";
    if (value === null || typeof value !== "object") {
      return typeof value === "function" ? `f${this.#idOf(value)}` : JSON.stringify(value);
    }
    if (Array.isArray(value)) return `[${value.map((v) => this.#serialize(v)).join(",")}]`;
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `o${this.#idOf(value)}`;
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${this.#serialize((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
}
