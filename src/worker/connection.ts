// Redis connection options for BullMQ from a redis:// URL. BullMQ hands them to ioredis; a
// Worker's connection must have maxRetriesPerRequest null so that a Redis restart parks its
// commands until the reconnect instead of failing them (BullMQ refuses other values there).
import type { ConnectionOptions } from 'bullmq';
import { UsageError } from '../util/errors.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** redis://[user:password@]host[:port][/db] or rediss:// (TLS) → ioredis options. */
export function redisConnection(url: string = DEFAULT_REDIS_URL): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--redis '${url}' is not a URL; write it like redis://10.0.0.5:6379`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new UsageError(`--redis '${url}' must start with redis:// or rediss:// (TLS)`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    throw new UsageError(`--redis '${url}': the path is the database number (e.g. /0), got '/${db}'`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * For commands that submit or list jobs: the same options, but a Redis that stays unreachable
 * for about 15 s is an error rather than a wait without end (a worker, by contrast, retries for
 * ever: it has nothing better to do).
 */
export function clientConnection(url: string = DEFAULT_REDIS_URL): ConnectionOptions {
  return {
    ...redisConnection(url),
    retryStrategy: (times: number) => (times > 10 ? null : Math.min(250 * times, 2000)),
  };
}

/** Wraps a command's failure to reach Redis in a message that names the server. */
export async function withRedis<T>(
  url: string,
  emitters: readonly NodeJS.EventEmitter[],
  run: () => Promise<T>,
): Promise<T> {
  let last: Error | null = null;
  // Without a listener BullMQ prints every failed reconnect; keep the last one for the message.
  for (const e of emitters) e.on('error', (err: Error) => (last = err));
  try {
    return await run();
  } catch (err) {
    if (last && /Connection is closed|ECONNREFUSED|ENOTFOUND|ETIMEDOUT/.test((err as Error).message ?? ''))
      throw new Error(`cannot reach Redis at ${url}: ${(last as Error).message}; start it or fix --redis`, {
        cause: err,
      });
    throw err;
  }
}
