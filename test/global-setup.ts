import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import type { OpenStackInfo } from './support/keystone.js';

const scripts = join(import.meta.dirname, '..', 'scripts');
const run = promisify(execFile);

/**
 * The openstack halves of the suite need real services, each started here once for the whole run
 * (side by side, in parallel) and stopped at the end:
 * - `openstack` (trusted headers): GLANCE_URL when given, else a Glance started from Debian's
 *   python3-glance when it is installed (scripts/glance.sh);
 * - `openstack-keystone`: OPENSTACK_JSON when it names an existing file (an `openstack.sh start`
 *   already running), else Keystone + a Glance in its keystone pipeline started with
 *   scripts/openstack.sh when python3-keystone (and gunicorn) import with /usr/bin/python3.
 * Whatever is missing is skipped, and this says so and why.
 */
export default async function setup(project: TestProject) {
  const teardowns: (() => Promise<void>)[] = [];
  const [glance, keystone] = await Promise.allSettled([startGlance(teardowns), startOpenStack(teardowns)]);
  if (glance.status === 'rejected' || keystone.status === 'rejected') {
    await Promise.all(teardowns.map((teardown) => teardown()));
    throw glance.status === 'rejected' ? glance.reason : (keystone as PromiseRejectedResult).reason;
  }
  project.provide('glanceUrl', glance.value);
  project.provide('openstack', keystone.value);
  return async () => {
    await Promise.all(teardowns.map((teardown) => teardown()));
  };
}

async function startGlance(teardowns: (() => Promise<void>)[]): Promise<string | null> {
  if (process.env.GLANCE_URL) return process.env.GLANCE_URL;
  if (!pythonImports('glance')) {
    say(
      'SKIPPING the openstack half of the acceptance tests: no GLANCE_URL and Glance is not installed ' +
        '(run scripts/glance.sh install, as .ci/run does).',
    );
    return null;
  }
  const script = join(scripts, 'glance.sh');
  const dir = mkdtempSync(join(tmpdir(), 'imagegraph-glance-'));
  teardowns.push(async () => {
    await run('bash', [script, 'stop', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const { stdout } = await run('bash', [script, 'start', dir], { encoding: 'utf8' });
  const url = /GLANCE_URL=(\S+)/.exec(stdout)?.[1] ?? null;
  say(`Running the openstack half against a Glance started at ${url}`);
  return url;
}

async function startOpenStack(teardowns: (() => Promise<void>)[]): Promise<OpenStackInfo | null> {
  const given = process.env.OPENSTACK_JSON;
  if (given && existsSync(given)) {
    const info = openStackInfo(given);
    say(`Running the openstack-keystone half against the Keystone at ${info.keystoneUrl} (OPENSTACK_JSON=${given})`);
    return info;
  }
  const missing = ['keystone', 'gunicorn', 'glance'].filter((module) => !pythonImports(module));
  if (missing.length > 0) {
    say(
      `SKIPPING the openstack-keystone half of the acceptance tests and the Keystone auth tests: ` +
        `${given ? `OPENSTACK_JSON=${given} does not exist, and ` : 'no OPENSTACK_JSON, and '}` +
        `/usr/bin/python3 cannot import ${missing.join(', ')} (run scripts/openstack.sh install, as .ci/run does).`,
    );
    return null;
  }
  const script = join(scripts, 'openstack.sh');
  const dir = mkdtempSync(join(tmpdir(), 'imagegraph-openstack-'));
  teardowns.push(async () => {
    await run('bash', [script, 'stop', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const started = Date.now();
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [script, 'start', dir], { encoding: 'utf8' }));
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(
      `scripts/openstack.sh start failed (python3-keystone is installed, so this is not skipped):\n${stderr ?? error}`,
    );
  }
  const json = /OPENSTACK_JSON=(\S+)/.exec(stdout)?.[1] ?? join(dir, 'openstack.json');
  const info = openStackInfo(json);
  say(
    `Running the openstack-keystone half against a Keystone at ${info.keystoneUrl} and a Glance at ${info.glanceUrl} ` +
      `(keystone pipeline), started in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return info;
}

/** openstack.json, plus where Keystone's gunicorn access log is (next to the `etc` dir of keystoneConf). */
function openStackInfo(file: string): OpenStackInfo {
  const json = JSON.parse(readFileSync(file, 'utf8')) as Omit<OpenStackInfo, 'accessLog'>;
  const accessLog = join(dirname(dirname(json.keystoneConf)), 'keystone-access.log');
  return { ...json, accessLog: existsSync(accessLog) ? accessLog : null };
}

function pythonImports(module: string): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function say(line: string): void {
  process.stdout.write(`\n${line}\n\n`);
}
