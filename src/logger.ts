import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON-lines logger; credentials never reach it because they are redacted at the source. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'imagegraph' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', '*.authorization', '*.token', '*.secret'], censor: '[redacted]' },
  });
}
