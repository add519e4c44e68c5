import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import type { ConversionTools, ToolName } from './conversion-tools.js';

/** What one conversion tool may use: it is killed past either. */
export interface ProcessLimits {
  timeoutMs: number;
  /** Address space (prlimit --as): bounds what a hostile file can make the tool allocate. */
  memoryBytes: number;
}

/** A conversion tool failed, was killed at its limit, or could not start; the message is for the image's statusReason. */
export class ConversionError extends Error {}

const STDERR_KEPT_BYTES = 2_048;

export interface LimitedProcess {
  child: ChildProcess;
  /** Resolves when the tool exits with 0; rejects with a ConversionError otherwise (or the abort's reason). */
  done: Promise<void>;
  /** Kills the tool and whatever it started (its result is no longer wanted). */
  kill(): void;
}

/**
 * Starts a conversion tool under `prlimit` (address space and CPU time) with a wall-clock deadline, in
 * its own process group so that a kill reaches everything it started. Its stderr's last lines become
 * the error; `hide` lists strings (the scratch paths) replaced before they reach a message.
 */
export function startLimited(
  tools: ConversionTools,
  tool: ToolName,
  args: string[],
  options: ProcessLimits & { signal?: AbortSignal; stdin?: 'pipe' | 'ignore'; hide?: string[] },
): LimitedProcess {
  // An abort that came before the start would never fire its event: the tool would run to its deadline.
  options.signal?.throwIfAborted();
  const program = tools.path(tool);
  if (!program) throw new ConversionError(tools.missing(tool)!);
  const prlimit = tools.path('prlimit');
  const cpuSeconds = Math.ceil(options.timeoutMs / 1000);
  const [command, commandArgs] = prlimit
    ? [prlimit, [`--as=${options.memoryBytes}`, `--cpu=${cpuSeconds}`, '--', program, ...args]]
    : [program, args];
  const child = spawn(command, commandArgs, {
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    detached: true,
    // glibc reserves up to 64 MiB of address space per malloc arena, up to 8 per core: with
    // qemu-img's worker threads that alone can pass the --as limit, and qemu aborts starting a thread.
    // Two arenas keep the limit about what the tool allocates, not how many threads it started.
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', MALLOC_ARENA_MAX: '2' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-STDERR_KEPT_BYTES)));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  const onAbort = () => kill();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new ConversionError(`${tool} could not be started: ${error.message}`)));
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) return reject(options.signal.reason);
      if (code === 0) return resolve();
      if (timedOut) return reject(new ConversionError(`${tool} took longer than ${cpuSeconds} s and was stopped`));
      let said = stderr.trim().split('\n').slice(-3).join(' ').trim();
      // The file first, then its directory: qemu may name other files beside it (a VMDK's extents).
      for (const text of options.hide ?? []) said = said.replaceAll(text, '<image>').replaceAll(dirname(text), '<scratch>');
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new ConversionError(`${tool} ${how}${said ? `: ${said}` : ''}`));
    });
  });
  return { child, done, kill };
}
