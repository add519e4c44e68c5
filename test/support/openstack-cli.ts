import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { glanceUrl, type ProviderKind } from './glance.js';
import { glanceProjectId } from './harness.js';
import { createProject, openstack, regionProjectIfAny } from './keystone.js';

const run = promisify(execFile);

/** Whether OpenStack's own CLI (`openstack`, Debian's python3-openstackclient) is installed. */
export function openstackCliInstalled(): boolean {
  try {
    execFileSync('openstack', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * An operator at the OpenStack CLI, acting on a test region's Glance project as an admin of it:
 * through Keystone with the region's application credential (openstack-keystone), or, for the
 * trusted-headers Glance, through a loopback proxy that adds the identity headers keystonemiddleware
 * would (no CLI sends them itself). Each call gets a fresh HOME, so no client cache carries over.
 */
export interface Operator {
  /** `openstack <args> -f json`, parsed; null for commands that print nothing. */
  json<T = Record<string, unknown>>(...args: string[]): Promise<T>;
  /** `openstack <args>`, its standard output. */
  run(...args: string[]): Promise<string>;
  /**
   * Shares an image with another project as a Glance member: `openstack image add project` with a real
   * Keystone project, or (the trusted-headers Glance has no Keystone for the CLI to look the project up
   * in) the same call through Glance's members API.
   */
  shareWithAnotherProject(imageId: string): Promise<void>;
  close(): Promise<void>;
}

export async function operatorFor(kind: ProviderKind, serverDir: string, region: string): Promise<Operator> {
  const home = mkdtempSync(join(tmpdir(), 'imagegraph-osc-'));
  let proxy: Server | null = null;
  let auth: string[];
  if (kind === 'openstack-keystone') {
    const project = regionProjectIfAny(serverDir, region);
    const setup = openstack();
    if (!project || !setup) throw new Error(`no Keystone project for region ${region}: start the test server first`);
    auth = [
      '--os-auth-type',
      'v3applicationcredential',
      '--os-auth-url',
      setup.keystoneUrl,
      '--os-application-credential-id',
      project.applicationCredential.id,
      '--os-application-credential-secret',
      project.applicationCredential.secret,
      '--os-interface',
      'public',
    ];
  } else {
    proxy = await identityProxy(glanceUrl()!, glanceProjectId(serverDir, region));
    auth = ['--os-auth-type', 'none', '--os-endpoint', `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`];
  }
  const runCli = async (args: string[]) => {
    // stdin closed: `image create` without --file would otherwise wait to read image data from it.
    const child = run('openstack', [...auth, '--os-image-api-version', '2', ...args], {
      env: { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' },
      maxBuffer: 16 * 1024 * 1024,
    });
    child.child.stdin?.end();
    return (await child).stdout;
  };
  const endpoint = proxy ? `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` : null;
  return {
    run: (...args) => runCli(args),
    async shareWithAnotherProject(imageId) {
      if (!endpoint) {
        await runCli(['image', 'add', 'project', imageId, (await createProject('partner')).projectId]);
        return;
      }
      const response = await fetch(`${endpoint}/v2/images/${imageId}/members`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ member: 'partner-project' }),
      });
      if (!response.ok) throw new Error(`Glance refused the member: ${response.status} ${await response.text()}`);
    },
    async json<T>(...args: string[]) {
      const text = await runCli([...args, '-f', 'json']);
      return (text.trim() ? JSON.parse(text) : null) as T;
    },
    async close() {
      if (proxy) await new Promise((resolve) => proxy!.close(resolve));
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** A loopback HTTP proxy to Glance that adds trusted identity headers: an admin of `projectId`. */
async function identityProxy(target: string, projectId: string): Promise<Server> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    const forwarded = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: req.url,
        method: req.method,
        headers: {
          ...req.headers,
          host: upstream.host,
          'x-identity-status': 'Confirmed',
          'x-project-id': projectId,
          'x-user-id': 'operator',
          'x-roles': 'admin,member',
        },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
