// Redis connection options for BullMQ from a redis:// URL. BullMQ hands them to ioredis; a
// Worker's connection must have maxRetriesPerRequest null so that a Redis restart parks its
// commands until the reconnect instead of failing them (BullMQ refuses other values there).
import type { ConnectionOptions } from 'bullmq';
import { UsageError } from '../cuda/errors.js';

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
