// A plain file server for benchmarks, run as its own process so it does not share an event loop with
// what is measured: `tsx bench/support/file-server.ts <dir> [--ignore-range]`. Prints its port, and
// for each finished response a JSON line with the bytes actually written to the socket.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const [dir, flag] = process.argv.slice(2);
const ignoreRange = flag === '--ignore-range';

const server = createServer((request, response) => {
  const file = join(dir!, decodeURIComponent(new URL(request.url!, 'http://x').pathname));
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    response.writeHead(404).end();
    return;
  }
  const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
  const [start, end] = range && !ignoreRange ? [Number(range[1]), Math.min(Number(range[2]), size - 1)] : [0, size - 1];
  response.writeHead(range && !ignoreRange ? 206 : 200, {
    'content-length': end - start + 1,
    ...(range && !ignoreRange ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  const socket = request.socket;
  const before = socket.bytesWritten;
  const report = () => console.log(JSON.stringify({ path: request.url, bytesWritten: socket.bytesWritten - before }));
  response.once('close', report);
  createReadStream(file, { start, end }).pipe(response);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as { port: number }).port })));
