import { describe, expect, it } from 'vitest';
import { isAllowedHost, isPublicAddress, unbracket } from '../../src/imports/address-policy.js';

/** Addresses imports must never reach (behaviour.md section 5 item 5). Pure checks: nothing is connected. */
const REFUSED: [string, string][] = [
  ['127.0.0.1', 'IPv4 loopback'],
  ['127.255.255.254', 'IPv4 loopback, end of 127/8'],
  ['::1', 'IPv6 loopback'],
  ['10.0.0.1', '10/8 private'],
  ['10.255.255.255', '10/8 private, last'],
  ['172.16.0.1', '172.16/12 private, first'],
  ['172.31.255.255', '172.16/12 private, last'],
  ['192.168.1.1', '192.168/16 private'],
  ['169.254.169.254', 'link-local cloud metadata'],
  ['169.254.0.1', 'link-local'],
  ['100.64.0.1', '100.64/10 CGNAT, first'],
  ['100.127.255.255', '100.64/10 CGNAT, last'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', '0/8 "this network"'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast (SSDP)'],
  ['240.0.0.1', '240/4 reserved'],
  ['198.18.0.1', '198.18/15 benchmarking'],
  ['198.19.255.255', '198.18/15 benchmarking, last'],
  ['192.0.2.1', 'TEST-NET-1'],
  ['198.51.100.1', 'TEST-NET-2'],
  ['203.0.113.1', 'TEST-NET-3'],
  ['192.0.0.8', '192.0.0/24 IETF protocol assignments'],
  ['fc00::1', 'fc00::/7 ULA (fc)'],
  ['fd00::1', 'fc00::/7 ULA (fd)'],
  ['fd12:3456:789a::1', 'ULA'],
  ['fe80::', 'IPv6 link-local'],
  ['fe80::1', 'IPv6 link-local'],
  ['::', 'IPv6 unspecified'],
  ['ff02::1', 'IPv6 multicast'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:7f00:1', 'IPv4-mapped loopback, hex form (what the URL parser produces)'],
  ['::ffff:8.8.8.8', 'IPv4-mapped public: refused too, never dialled through the mapping'],
  ['::ffff:a9fe:a9fe', 'IPv4-mapped metadata address'],
  ['64:ff9b::a00:1', 'NAT64 well-known prefix (10.0.0.1)'],
  ['64:ff9b::808:808', 'NAT64 of a public address'],
  ['64:ff9b:1::a00:1', 'NAT64 local-use prefix'],
  ['2002:a00:1::', '6to4 (10.0.0.1)'],
  ['2001::1', 'Teredo'],
  ['2001:db8::1', 'IPv6 documentation'],
  ['100::1', 'IPv6 discard prefix'],
  ['2001:2::1', 'IPv6 benchmarking'],
  ['fec0::1', 'deprecated site-local'],
];

const PUBLIC = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888'];

describe('isPublicAddress', () => {
  it.each(REFUSED)('refuses %s (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(PUBLIC)('accepts the global unicast address %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it.each(['', 'localhost', 'example.com', '999.1.1.1', '[::1]', '1.2.3.4.5', 'fe80::1::2'])(
    'refuses %j, which is not an IP address',
    (value) => {
      expect(isPublicAddress(value)).toBe(false);
    },
  );

  // ipaddr.js's range() is 'unicast' for every IPv6 address it has no name for, including the deprecated
  // IPv4-compatible block ::/96 (RFC 4291 2.5.5.1): the URL parser writes `[::127.0.0.1]` as `[::7f00:1]`.
  // Only 2000::/3 is global unicast.
  it.each([
    ['::7f00:1', 'http://[::127.0.0.1]/'],
    ['::a00:1', 'http://[::10.0.0.1]/'],
    ['::a9fe:a9fe', 'http://[::169.254.169.254]/'],
  ])('refuses the IPv4-compatible address %s (the host of %s)', (address, url) => {
    expect(unbracket(new URL(url).hostname)).toBe(address);
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['4000::1', '::1:0:0:1'])('refuses %s, outside global unicast 2000::/3', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });
});

describe('isAllowedHost', () => {
  const cases: [string, readonly string[], string, string, boolean][] = [
    ['a bare host, any port', ['images.example.com'], 'images.example.com', '443', true],
    ['a bare host, another port', ['images.example.com'], 'images.example.com', '8080', true],
    ['host:port, same port', ['images.example.com:8443'], 'images.example.com', '8443', true],
    ['host:port, other port', ['images.example.com:8443'], 'images.example.com', '443', false],
    ['host:port, the default port spelled out', ['images.example.com:443'], 'images.example.com', '443', true],
    ['entry case-insensitive', ['Images.EXAMPLE.com'], 'images.example.com', '443', true],
    ['hostname case-insensitive', ['images.example.com'], 'IMAGES.Example.COM', '443', true],
    ['a different host', ['images.example.com'], 'other.example.com', '443', false],
    ['a subdomain is not the host', ['example.com'], 'images.example.com', '443', false],
    ['a suffix is not the host', ['example.com'], 'evilexample.com', '443', false],
    ['the host as a prefix is not the host', ['example.com'], 'example.com.evil.net', '443', false],
    ['an empty list', [], 'images.example.com', '443', false],
    ['one entry of several', ['a.example', '127.0.0.1:8080', 'b.example'], '127.0.0.1', '8080', true],
    ['IPv4 host:port', ['127.0.0.1:8080'], '127.0.0.1', '8080', true],
    ['IPv4 host:port, port mismatch', ['127.0.0.1:8080'], '127.0.0.1', '8081', false],
    ['IPv4 is not another loopback spelling', ['127.0.0.1'], 'localhost', '80', false],
    ['[v6]:port, bracketed hostname', ['[::1]:8080'], '[::1]', '8080', true],
    ['[v6]:port, unbracketed hostname', ['[::1]:8080'], '::1', '8080', true],
    ['[v6]:port, port mismatch', ['[::1]:8080'], '[::1]', '8081', false],
    ['[v6] without port', ['[fd00::1]'], 'fd00::1', '443', true],
    ['bare v6, any port', ['fd00::1'], '[fd00::1]', '8443', true],
    ['bare v6, case-insensitive', ['FD00::ABCD'], '[fd00::abcd]', '443', true],
    ['bare v6, another address', ['fd00::1'], 'fd00::2', '443', false],
    ['bare v6 is not its IPv4-mapped cousin', ['::1'], '::ffff:7f00:1', '80', false],
  ];

  it.each(cases)('%s', (_name, allowedHosts, hostname, port, expected) => {
    expect(isAllowedHost(allowedHosts, hostname, port)).toBe(expected);
  });
});
