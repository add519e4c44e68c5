import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { createImagegraph } from './server.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (config.auth.mode === 'dev') {
    // config.ts has already refused dev mode on a non-loopback address.
    logger.warn('DEV MODE: authentication is off; every request acts as platform admin "dev". Never expose this server.');
  }
  const app = await createImagegraph(config, { logger });
  const { url, opsUrl } = await app.listen();
  logger.info(
    { url, opsUrl, regions: config.regions.map((r) => r.id), auth: config.auth.mode },
    `imagegraph listening on ${url}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    app.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  // Start-up mistakes (config, tokens file, port in use) get one readable line, not a stack trace.
  const message = error instanceof ConfigError ? error.message : `imagegraph failed to start: ${(error as Error).message}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
