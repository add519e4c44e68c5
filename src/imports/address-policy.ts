import ipaddr from 'ipaddr.js';

/** IPv6 global unicast: ipaddr.js calls everything it has no name for "unicast", ::a.b.c.d included. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * Whether an address may be fetched from: only global unicast. Everything ipaddr.js classifies
 * otherwise is refused: loopback, private, link-local (169.254.169.254 metadata), CGNAT, ULA,
 * multicast, reserved, unspecified, and the IPv6 forms that embed an IPv4 address (IPv4-mapped,
 * IPv4-compatible, NAT64, 6to4, Teredo), since they can reach an internal IPv4 host.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  if (parsed.range() !== 'unicast') return false;
  return parsed.kind() === 'ipv4' || (parsed as ipaddr.IPv6).match(GLOBAL_UNICAST_V6);
}

/** `host`, `host:port`, `[v6]` or `[v6]:port` entries of `imports.allowedHosts`, matched against a URL's host. */
export function isAllowedHost(allowedHosts: readonly string[], hostname: string, port: string): boolean {
  const host = normalizeHost(unbracket(hostname));
  return allowedHosts.some((entry) => {
    const allowed = parseHostEntry(entry.toLowerCase());
    return normalizeHost(allowed.host) === host && (allowed.port === null || allowed.port === port);
  });
}

/** `0:0::1` and `::1` are one address: compare IPs in one spelling. */
function normalizeHost(host: string): string {
  return ipaddr.isValid(host) ? ipaddr.parse(host).toNormalizedString() : host.toLowerCase();
}

function parseHostEntry(entry: string): { host: string; port: string | null } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] ?? null };
  // A bare IPv6 address has several colons and no port.
  if (entry.split(':').length > 2) return { host: entry, port: null };
  const [host, port] = entry.split(':');
  return { host: host!, port: port ?? null };
}

export function unbracket(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1');
}
