/**
 * The embedded store's lock: one process at a time opens a PGlite data directory (the bot, a
 * migration, a copy). Exclusive creates only (a hard-linked lock file with a nonce; a stale lock is
 * taken over through a marker named after it), so two processes never both win.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fstatSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";

/** A second process (bot or migration) tried to open an embedded store that is in use. */
export class StoreInUseError extends Error {}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** What a lock file holds: its owner, and a nonce naming this one instance of the file. */
interface LockOwner {
  pid?: number;
  host?: string;
  nonce?: string;
}

/** One instance of a lock file as read: its owner, the name of that instance, and its age. */
interface LockInstance {
  owner: LockOwner;
  /** The nonce, or (a file of the previous version, or unreadable) a hash of the file's inode, time and content. */
  id: string;
  /** Unparsable and less than a second old: a writer without hard links may still be writing it. */
  young: boolean;
  ageMs: number;
}

const LOCK_WAIT_MS = 5_000;
/** A takeover marker is held for the microseconds between two unlinks: one this old was left by a crash. */
const MARKER_ABANDONED_MS = 10_000;
const MAX_MARKER_DEPTH = 4;

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** The lock file's current instance, or undefined if there is none. */
function readLock(file: string): LockInstance | undefined {
  let raw = "";
  let stat: { ino: number; mtimeMs: number };
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    try {
      stat = statSync(file); // unreadable (permissions): named by its inode and time alone
    } catch (statError) {
      if (errorCode(statError) === "ENOENT") return undefined;
      throw statError;
    }
  }
  if (fd !== undefined) {
    try {
      stat = fstatSync(fd); // the same instance as the content read next
      raw = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  }
  let owner: LockOwner | undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === "object") owner = parsed as LockOwner;
  } catch {
    // half-written (by a writer without hard links, or the previous version) or unreadable
  }
  const ageMs = Date.now() - stat!.mtimeMs;
  const nonce = typeof owner?.nonce === "string" && /^[0-9a-f]{8,64}$/.test(owner.nonce) ? owner.nonce : undefined;
  const id = nonce ?? createHash("sha256").update(`${stat!.ino}:${stat!.mtimeMs}:${raw}`).digest("hex").slice(0, 32);
  return { owner: owner ?? {}, id, young: owner === undefined && ageMs < 1_000, ageMs };
}

/**
 * Creates the lock file holding us, atomically: the content goes to a temp file of our own first,
 * which is then hard-linked to the lock's name (EEXIST if there is one), so no reader ever sees a
 * half-written lock. Returns our nonce, or undefined if the file exists.
 */
function createLock(file: string): string | undefined {
  const nonce = randomBytes(12).toString("hex");
  const content = JSON.stringify({ pid: process.pid, host: hostname(), nonce });
  const temp = `${file}.${nonce}.tmp`;
  writeFileSync(temp, content, { flag: "wx" });
  try {
    linkSync(temp, file);
    return nonce;
  } catch (error) {
    const code = errorCode(error);
    if (code === "EEXIST") return undefined;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw error;
  } finally {
    unlinkSync(temp);
  }
  // A file system without hard links: an exclusive create, then the content (readers wait a
  // second for an empty or half-written lock before calling it stale).
  let fd: number;
  try {
    fd = openSync(file, "wx");
  } catch (error) {
    if (errorCode(error) === "EEXIST") return undefined;
    throw error;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return nonce;
}

/** Removes the lock file if it is still the instance we created. */
function removeLock(file: string, nonce: string): void {
  if (readLock(file)?.id !== nonce) return;
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Whether a lock's owner is gone: a dead pid on this host, or our own pid or our parent's. */
function isStale(owner: LockOwner): boolean {
  if (owner.host !== undefined && owner.host !== hostname()) return false;
  // Our own pid (or our parent's) in the file means it was written by an earlier process that
  // had the same pid: in a container the bot is pid 1 on every start.
  const reused = owner.pid === process.pid || owner.pid === process.ppid;
  return !owner.pid || reused || !isAlive(owner.pid);
}

/**
 * Removes the stale instance `stale` of `file` if this process wins the right to: an exclusive
 * create of that instance's takeover marker (`<file>.<id>.takeover`, itself a lock taken the same
 * way). Returns false if another process holds the marker (it is taking the lock over now).
 */
function takeOver(file: string, stale: LockInstance, depth: number): boolean {
  if (depth >= MAX_MARKER_DEPTH) return false;
  const marker = `${file}.${stale.id}.takeover`;
  const nonce = takeMarker(marker, depth + 1);
  if (nonce === undefined) return false;
  try {
    // Holding the marker, nobody else removes this instance: if it is still there, it is ours to
    // remove. A process that wins the marker later (after we released it) finds another
    // instance (or none) here, and removes nothing.
    if (readLock(file)?.id === stale.id) unlinkSync(file);
  } finally {
    removeLock(marker, nonce);
  }
  return true;
}

/** One attempt at a takeover marker: our nonce if we now hold it, undefined if another process does. */
function takeMarker(marker: string, depth: number): string | undefined {
  const nonce = createLock(marker);
  if (nonce !== undefined) return nonce;
  const held = readLock(marker);
  if (held === undefined || held.young) return undefined;
  // Its holder died between taking it and removing it (or was frozen for ages): take it over the same way.
  if (isStale(held.owner) || held.ageMs > MARKER_ABANDONED_MS) takeOver(marker, held, depth);
  return undefined; // the next round tries again
}

/**
 * PGlite is one process's database: two processes on one data directory corrupt it silently.
 * A lock file beside the directory (`<dir>.lock`, holding the owner's pid and host) keeps a second
 * one out; a lock left by a process that died (kill -9, power loss) is taken over.
 *
 * Taking it is atomic, with exclusive creates only:
 * - The lock file is created whole: {pid, host, nonce} goes to a temp file, which is hard-linked to
 *   `<dir>.lock` (EEXIST if a lock exists). The nonce names this one instance of the file.
 * - A stale instance (its pid dead, or ours or our parent's: an earlier process with our pid) is
 *   removed only by the process that wins the exclusive create of its marker,
 *   `<dir>.lock.<nonce>.takeover`; the winner checks the file is still that instance, unlinks it,
 *   drops the marker, and tries to create its own lock (it may lose to a new process: that one is
 *   then found alive). Nobody else removes the instance while the marker is held, and an instance
 *   once removed never comes back (nonces are unique), so a late winner of the same marker removes
 *   nothing. Without the marker, two processes that both read the stale lock could both delete it,
 *   the second deleting the lock the first had just created.
 * - The others wait (a few ms at a time, up to 5 s) for the instance to go, then find the winner's
 *   lock alive and are refused.
 * - A marker is itself such a lock: one left by a process that crashed while holding it (dead
 *   pid, or older than 10 s) is taken over by the same rule, through a marker of its own.
 * - A lock without a nonce (written by the previous version) or unreadable is named by a hash of
 *   its inode, time and content. One that is unparsable and under a second old is left alone (a
 *   writer on a file system without hard links may still be writing it).
 */
export function lockDataDir(dataDir: string): () => void {
  const file = `${dataDir.replace(/\/+$/, "")}.lock`;
  const host = hostname();
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const nonce = createLock(file);
    if (nonce !== undefined) {
      let held = true;
      const release = () => {
        if (!held) return;
        held = false;
        process.off("exit", release);
        removeLock(file, nonce);
      };
      process.on("exit", release);
      return release;
    }
    const current = readLock(file);
    if (current !== undefined) {
      const { owner } = current;
      if (owner.host !== undefined && owner.host !== host) {
        throw new StoreInUseError(
          `The embedded store ${dataDir} is locked by pid ${owner.pid} on another host (${owner.host}). ` +
            `Only one process may open it. If Parley no longer runs there, delete ${file} and start again.`,
        );
      }
      if (!current.young && !isStale(owner)) {
        throw new StoreInUseError(
          `The embedded store ${dataDir} is in use by another process (pid ${owner.pid}). ` +
            "Only one process may open it: stop the other one, or set PGLITE_DATA_DIR to another directory.",
        );
      }
      // Stale: whoever wins its marker removes it; the next round creates our lock, or finds the
      // winner's.
      if (!current.young && takeOver(file, current, 0)) continue;
    }
    if (Date.now() > deadline) throw new StoreInUseError(`Could not lock the embedded store ${dataDir}.`);
    if (current !== undefined) pause(2 + Math.random() * 8);
  }
}
