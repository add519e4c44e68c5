import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import { isAllowedHost, isPublicAddress, unbracket } from './address-policy.js';

/** Raised inside the connector when a host resolves to (or is) an address imports may not reach. */
export class AddressNotAllowedError extends Error {
  override name = 'AddressNotAllowedError';
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(`${host} resolves to ${address}, which is not a public address`);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * net.connect's `lookup`, refusing names that resolve to any non-public address. The connection is
 * made to the address checked here, so DNS rebinding cannot slip in between check and connect.
 */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused) return callback(new AddressNotAllowedError(hostname, refused.address) as NodeJS.ErrnoException, []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
}

/**
 * An undici connector that checks where it connects before any packet leaves: IP literals directly
 * (net.connect does not call `lookup` for them) and names through publicOnlyLookup. Hosts on the
 * operator's allow-list skip the check.
 */
export function guardedConnector(allowedHosts: readonly string[], connectTimeoutMs: number): buildConnector.connector {
  const guarded = buildConnector({ timeout: connectTimeoutMs, lookup: publicOnlyLookup } as buildConnector.BuildOptions);
  const unguarded = buildConnector({ timeout: connectTimeoutMs });
  return (options, callback) => {
    const host = unbracket(options.hostname);
    const port = options.port || (options.protocol === 'https:' ? '443' : '80');
    if (isAllowedHost(allowedHosts, host, port)) return unguarded(options, callback);
    if (isIP(host) && !isPublicAddress(host)) {
      return callback(new AddressNotAllowedError(host, host), null);
    }
    return guarded(options, callback);
  };
}
