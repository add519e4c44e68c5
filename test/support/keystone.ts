import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { inject } from 'vitest';

/**
 * The real Keystone (and the Glance in its keystone pipeline) the openstack-keystone half of the
 * suite runs against, started by test/global-setup.ts with scripts/openstack.sh, and what tests do
 * with it through Keystone's own REST API: one project, user and application credential per test
 * region (so tests never see each other's images), tokens, revocation, and counting token requests.
 */

/** scripts/openstack.sh's openstack.json, plus the path of Keystone's gunicorn access log (if readable). */
export interface OpenStackInfo {
  keystoneUrl: string;
  glanceUrl: string;
  region: string;
  projectId: string;
  userId: string;
  applicationCredential: { id: string; secret: string };
  adminPassword: string;
  keystoneConf: string;
  accessLog: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    openstack: OpenStackInfo | null;
  }
}

/** The Keystone setup of this run, or null when the openstack-keystone half is skipped (see global-setup.ts). */
export function openstack(): OpenStackInfo | null {
  return inject('openstack') ?? null;
}

function info(): OpenStackInfo {
  const setup = openstack();
  if (!setup) throw new Error('no Keystone: install it with scripts/openstack.sh install (see test/global-setup.ts)');
  return setup;
}

/**
 * Test-side calls go through a dispatcher of their own, so that a test that changes undici's global
 * dispatcher (to tell imagegraph's Keystone requests apart in the access log) does not count them.
 */
const dispatcher = new Agent({ connections: 4 });

export interface KeystoneResponse<T = Record<string, unknown>> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/** One Keystone v3 call (`path` after /v3); throws on an unexpected status, with Keystone's message. */
export async function keystone<T = Record<string, unknown>>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD',
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string>; expect?: number[] } = {},
): Promise<KeystoneResponse<T>> {
  const response = await request(`${info().keystoneUrl}${path}`, {
    method,
    dispatcher,
    headers: {
      accept: 'application/json',
      'user-agent': 'imagegraph-tests',
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { 'x-auth-token': options.token } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.body.text();
  const expected = options.expect ?? [200, 201, 204];
  // Request bodies may hold passwords and secrets: only the method, path and Keystone's answer are shown.
  if (!expected.includes(response.statusCode))
    throw new Error(`Keystone: ${method} ${path} -> ${response.statusCode} ${text.slice(0, 300)}`);
  return { status: response.statusCode, headers: response.headers, body: (text ? JSON.parse(text) : null) as T };
}

const DOMAIN = { id: 'default' };

/** A password token, scoped to a project (by id or name) when given. */
async function passwordToken(
  user: string,
  password: string,
  project?: { id: string } | { name: string; domain: typeof DOMAIN },
): Promise<string> {
  const response = await keystone('POST', '/auth/tokens', {
    body: {
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, domain: DOMAIN, password } } },
        ...(project ? { scope: { project } } : {}),
      },
    },
    expect: [201],
  });
  return response.headers['x-subject-token'] as string;
}

let admin: Promise<string> | null = null;

/** An admin token (project admin, domain default), made once per test file and reused. */
export function adminToken(): Promise<string> {
  admin ??= passwordToken('admin', info().adminPassword, { name: 'admin', domain: DOMAIN });
  admin.catch(() => (admin = null));
  return admin;
}

let roles: Promise<Record<'member' | 'admin', string>> | null = null;

function roleIds(): Promise<Record<'member' | 'admin', string>> {
  roles ??= (async () => {
    const token = await adminToken();
    const id = async (name: string) => {
      const found = (await keystone<{ roles: { id: string }[] }>('GET', `/roles?name=${name}`, { token })).body.roles[0];
      if (!found) throw new Error(`Keystone has no role ${name}`);
      return found.id;
    };
    return { member: await id('member'), admin: await id('admin') };
  })();
  return roles;
}

/** A Glance project of a test region: a Keystone project, a user of it and the user's application credential. */
export interface KeystoneProject {
  name: string;
  projectId: string;
  userId: string;
  password: string;
  applicationCredential: { id: string; secret: string };
}

const byProjectId = new Map<string, KeystoneProject>();

/**
 * A new Keystone project with a user (roles member and admin on it: admin so that imagegraph may
 * make images public), and an application credential the user made for itself, as an operator
 * would: the admin creates project, user and role assignments; the user, with a password token
 * scoped to its project, creates the credential.
 */
export async function createProject(label: string): Promise<KeystoneProject> {
  const token = await adminToken();
  const name = `ig-${label.replace(/[^\w-]/g, '-').slice(0, 24)}-${randomBytes(5).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const project = (
    await keystone<{ project: { id: string } }>('POST', '/projects', {
      token,
      body: { project: { name, domain_id: 'default', enabled: true, description: 'imagegraph test region' } },
    })
  ).body.project;
  const user = (
    await keystone<{ user: { id: string } }>('POST', '/users', {
      token,
      body: { user: { name, domain_id: 'default', password, default_project_id: project.id, enabled: true } },
    })
  ).body.user;
  const { member, admin: adminRole } = await roleIds();
  for (const role of [member, adminRole])
    await keystone('PUT', `/projects/${project.id}/users/${user.id}/roles/${role}`, { token });
  const own = await passwordToken(name, password, { id: project.id });
  const credential = (
    await keystone<{ application_credential: { id: string; secret: string } }>(
      'POST',
      `/users/${user.id}/application_credentials`,
      {
        token: own,
        body: {
          application_credential: {
            name: 'imagegraph-test',
            description: 'imagegraph test server -> glance',
            unrestricted: false,
          },
        },
      },
    )
  ).body.application_credential;
  const made = {
    name,
    projectId: project.id,
    userId: user.id,
    password,
    applicationCredential: { id: credential.id, secret: credential.secret },
  };
  byProjectId.set(made.projectId, made);
  return made;
}

const regions = new Map<string, Promise<KeystoneProject>>();
const regionsDone = new Map<string, KeystoneProject>();

/**
 * The Glance project of an openstack-keystone test region: made at the first start of a server on
 * `dir`, the same again when it restarts on that dir (so a restart finds its images).
 */
export function regionProject(dir: string, region: string): Promise<KeystoneProject> {
  const key = `${dir}/${region}`;
  let project = regions.get(key);
  if (!project) {
    project = createProject(region).then((made) => {
      regionsDone.set(key, made);
      return made;
    });
    project.catch(() => regions.delete(key));
    regions.set(key, project);
  }
  return project;
}

/** The project regionProject made for (dir, region), if any. */
export function regionProjectIfAny(dir: string, region: string): KeystoneProject | undefined {
  return regionsDone.get(`${dir}/${region}`);
}

/** The project made here with this id, if any. */
export function projectById(projectId: string): KeystoneProject | undefined {
  return byProjectId.get(projectId);
}

const projectTokens = new Map<string, Promise<string>>();

/**
 * A token of the project's user scoped to the project (same roles as its application credential),
 * for tests that look at Glance directly. A password token rather than an application-credential
 * one: Keystone validates it in ~30 ms instead of ~350 ms, and Glance validates every token it
 * gets (token_cache_time -1). `fresh` drops the cached one (after a 401).
 */
export function projectToken(project: KeystoneProject, fresh = false): Promise<string> {
  let token = fresh ? undefined : projectTokens.get(project.projectId);
  if (!token) {
    token = passwordToken(project.name, project.password, { id: project.projectId });
    token.catch(() => projectTokens.delete(project.projectId));
    projectTokens.set(project.projectId, token);
  }
  return token;
}

/** A token from an application credential, as imagegraph gets one. */
export async function applicationCredentialToken(credential: { id: string; secret: string }): Promise<string> {
  const response = await keystone('POST', '/auth/tokens', {
    body: { auth: { identity: { methods: ['application_credential'], application_credential: credential } } },
    expect: [201],
  });
  return response.headers['x-subject-token'] as string;
}

/** Revokes a token at Keystone, as an operator would (DELETE /v3/auth/tokens as admin). */
export async function revokeToken(token: string): Promise<void> {
  await keystone('DELETE', '/auth/tokens', { token: await adminToken(), headers: { 'x-subject-token': token }, expect: [204] });
}

/** Whether Keystone still accepts a token (validation as admin). */
export async function tokenIsValid(token: string): Promise<boolean> {
  const response = await keystone('HEAD', '/auth/tokens', {
    token: await adminToken(),
    headers: { 'x-subject-token': token },
    expect: [200, 404],
  });
  return response.status === 200;
}

/**
 * A real token with a short lifetime from an application credential, minted by
 * scripts/openstack/issue-short-token.py (an in-process Keystone on the same database and keys; about
 * 5 s). Use 6 s or more.
 */
export async function shortLivedToken(
  seconds: number,
  credential: { id: string; secret: string },
): Promise<{ token: string; expiresAt: number }> {
  const script = join(import.meta.dirname, '..', '..', 'scripts', 'openstack', 'issue-short-token.py');
  const { stdout } = await promisify(execFile)(
    '/usr/bin/python3',
    [script, info().keystoneConf, String(seconds), credential.id, credential.secret],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const minted = JSON.parse(stdout) as { token: string; expires_at: string };
  return { token: minted.token, expiresAt: Date.parse(minted.expires_at) };
}

/**
 * Token requests (`POST /v3/auth/tokens`) in Keystone's gunicorn access log, from one client
 * address: a test that sends imagegraph's Keystone requests from an address of its own (any of
 * 127.0.0.0/8 reaches the loopback Keystone) counts only those, whatever else runs in parallel.
 * Null when the access log is not readable here (OPENSTACK_JSON of another machine's Keystone).
 */
export function tokenRequests(fromAddress: string): number | null {
  const log = info().accessLog;
  if (!log || !existsSync(log)) return null;
  const prefix = `${fromAddress} `;
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith(prefix) && line.includes('"POST /v3/auth/tokens')).length;
}
