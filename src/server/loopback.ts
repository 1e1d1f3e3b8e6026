import { isIPv4, isIPv6 } from "node:net";

/**
 * Whether `address` is a loopback IP address: 127.0.0.0/8, `::1`, or an IPv4-mapped `::ffff:127.x.y.z`.
 *
 * @example
 * ```ts
 * isLoopbackAddress("127.0.0.1"); // true
 * isLoopbackAddress("0.0.0.0"); // false: every interface
 * ```
 */
export function isLoopbackAddress(address: string): boolean {
  let a = address.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  if (isIPv4(a)) return a.split(".")[0] === "127";
  if (!isIPv6(a)) return false;
  if (a.startsWith("::ffff:")) {
    const v4 = a.slice("::ffff:".length);
    return isIPv4(v4) && v4.split(".")[0] === "127";
  }
  // Expand "::" so that 0:0:0:0:0:0:0:1 and ::1 compare equal.
  const [head = "", tail = ""] = a.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = a.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return groups.length === 8 && groups.slice(0, 7).every((g) => /^0+$/.test(g)) && /^0*1$/.test(groups[7] as string);
}

/**
 * Whether an HTTP `Host` header names this machine's loopback interface: `localhost`, a loopback IP, or either with a
 * port. Anything else (a DNS name that an attacker's web page resolved to 127.0.0.1) is a DNS-rebinding attempt.
 *
 * @example
 * ```ts
 * isLoopbackHost("127.0.0.1:9911"); // true
 * isLoopbackHost("evil.example:9911"); // false
 * ```
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const h = host.trim().toLowerCase();
  let name: string;
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return false;
    const rest = h.slice(end + 1);
    if (rest !== "" && !/^:[0-9]{1,5}$/.test(rest)) return false;
    name = h.slice(0, end + 1);
  } else {
    const m = /^([^:]+)(?::[0-9]{1,5})?$/.exec(h);
    if (!m) return false;
    name = m[1] as string;
  }
  return name === "localhost" || isLoopbackAddress(name);
}
