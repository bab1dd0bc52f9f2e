import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/** A webhook URL that may not be used, and why. */
export class TargetRefused extends Error {
  override name = "TargetRefused";
}

const V4_BLOCKED: [string, number][] = [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4],
];

const v4 = (address: string) => address.split(".").reduce((n, part) => (n << 8) + Number(part), 0) >>> 0;

function blockedV4(address: string): boolean {
  const ip = v4(address);
  return V4_BLOCKED.some(([net, bits]) => (ip & (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0)) >>> 0 === v4(net));
}

/** The 8 groups of an IPv6 address (`::` expanded, a trailing IPv4 part converted). */
function groups(address: string): number[] {
  let text = address.toLowerCase().split("%")[0];
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    const n = v4(tail[1]);
    text = `${text.slice(0, tail.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, rest] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = rest !== undefined && rest !== "" ? rest.split(":") : [];
  const middle = rest === undefined ? [] : Array(8 - left.length - right.length).fill("0");
  return [...left, ...middle, ...right].map((g) => Number.parseInt(g, 16));
}

function blockedV6(address: string): boolean {
  const g = groups(address);
  if (g.slice(0, 7).every((x) => x === 0) && (g[7] === 0 || g[7] === 1)) return true; // :: and ::1
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return blockedV4(`${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`); // ::ffff:a.b.c.d
  if ((g[0] & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g[0] & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x64 && g[1] === 0xff9b) return true; // NAT64 of anything: refuse
  return false;
}

/** Whether an address is private, loopback, link-local, or otherwise not a public destination. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blockedV4(address);
  if (family === 6) return blockedV6(address);
  return true;
}

/** Resolves a host name to every address it has (the system resolver; tests pass their own). */
export type Resolve = (host: string) => Promise<string[]>;

const systemResolve: Resolve = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** A checked webhook target: its URL, and the address a delivery must connect to (the one checked). */
export interface Target {
  url: URL;
  /** the vetted address of a host name; absent when the URL names an IP or private targets are allowed */
  address?: string;
}

/**
 * Checks a webhook URL before it is stored and before every delivery: http or https only, no
 * credentials in it, and (unless private targets are allowed) every address its host resolves to
 * must be public. Deliveries follow no redirects, so a redirect cannot lead anywhere else, and
 * connect to the address checked here (`post`), so a name that resolves differently a moment later
 * (DNS rebinding) cannot lead there either.
 */
export async function checkTarget(url: string, allowPrivate: boolean, resolve: Resolve = systemResolve): Promise<Target> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TargetRefused("not a valid URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new TargetRefused("only http and https URLs");
  if (parsed.username || parsed.password) throw new TargetRefused("no credentials in the URL");
  if (allowPrivate) return { url: parsed };
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    if (isPrivateAddress(host)) throw new TargetRefused(`the host is a private, loopback or link-local address (${host})`);
    return { url: parsed };
  }
  let addresses: string[];
  try {
    addresses = await resolve(host);
  } catch {
    throw new TargetRefused(`the host ${host} does not resolve`);
  }
  if (addresses.length === 0) throw new TargetRefused(`the host ${host} does not resolve`);
  const bad = addresses.find(isPrivateAddress);
  if (bad !== undefined) throw new TargetRefused(`the host resolves to a private, loopback or link-local address (${bad})`);
  return { url: parsed, address: addresses[0] };
}

/**
 * POSTs to a checked target. With a vetted address, the connection goes to that address: the URL's
 * host becomes the address, the Host header and (for https) the TLS server name stay the host's,
 * so virtual hosts and certificate checks work as they would by name. `tls` adds TLS options (a
 * private CA: the tests' receiver).
 */
export function post(target: Target, init: RequestInit & { headers: Record<string, string> }, tls?: { ca?: string }): Promise<Response> {
  if (target.address === undefined) return fetch(target.url, { ...init, tls });
  const pinned = new URL(target.url);
  pinned.hostname = isIP(target.address) === 6 ? `[${target.address}]` : target.address;
  return fetch(pinned, {
    ...init,
    headers: { ...init.headers, host: target.url.host },
    tls: target.url.protocol === "https:" ? { ...tls, serverName: target.url.hostname } : tls,
  });
}
