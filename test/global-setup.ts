import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

const script = join(import.meta.dirname, '..', 'scripts', 'glance.sh');

/**
 * The openstack half of the suite needs a real Glance: GLANCE_URL when given, else one started here
 * from Debian's python3-glance when it is installed (scripts/glance.sh install), else it is skipped,
 * and this says so.
 */
export default function setup(project: TestProject) {
  if (process.env.GLANCE_URL) {
    project.provide('glanceUrl', process.env.GLANCE_URL);
    return;
  }
  if (!glanceInstalled()) {
    process.stdout.write(
      '\nSKIPPING the openstack half of the acceptance tests: no GLANCE_URL and Glance is not installed ' +
        '(run scripts/glance.sh install, as .ci/run does).\n\n',
    );
    project.provide('glanceUrl', null);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'imagegraph-glance-'));
  const output = execFileSync('bash', [script, 'start', dir], { encoding: 'utf8' });
  const url = /GLANCE_URL=(\S+)/.exec(output)?.[1] ?? null;
  process.stdout.write(`\nRunning the openstack half against a Glance started at ${url}\n\n`);
  project.provide('glanceUrl', url);
  return () => {
    execFileSync('bash', [script, 'stop', dir]);
    rmSync(dir, { recursive: true, force: true });
  };
}

function glanceInstalled(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import glance'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
