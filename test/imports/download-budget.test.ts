/**
 * The download budget's pace is the server's: time imagegraph spends on its own side (a slow disk, a
 * decompressor expanding zeros) does not count against the server, time spent waiting for it does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DownloadBudget } from '../../src/imports/download-budget.js';

const budgets: DownloadBudget[] = [];
const budget = () => {
  const made = new DownloadBudget({
    uri: 'http://x/',
    deadlineMs: 60_000,
    minBytesPerSecond: 1 << 20,
    windowMs: 400,
    tickMs: 50,
  });
  budgets.push(made);
  return made;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
afterEach(() => budgets.splice(0).forEach((made) => made.dispose()));

describe('DownloadBudget pace', () => {
  it('stops a server that keeps imagegraph waiting, naming the limit', async () => {
    const slow = budget();
    slow.waiting();
    await sleep(700);
    expect(slow.signal.aborted).toBe(true);
    expect(slow.failure()?.message).toMatch(/below the minimum of 1048576 \(limits\.importMinBytesPerSecond\)/);
  });

  it('does not count the time imagegraph itself takes between reads', async () => {
    const busy = budget();
    for (let i = 0; i < 10; i++) {
      busy.waiting();
      busy.count(64 << 10); // the server answers at once...
      await sleep(80); // ...and the consumer takes its time
    }
    expect(busy.signal.aborted).toBe(false);
  });
});
