import type { AccessConfig } from "../config.ts";
import { parseUserSubject } from "../config.ts";
import type { AccessRepository } from "../db/access.repository.ts";
import type { AccessRule } from "../domain/people.ts";

export interface TelegramUser {
  id: number;
  username?: string | undefined;
}

export interface AccessOverview {
  /** Anyone not denied may talk to the bot. */
  everyone: boolean;
  /** From ALLOWED_USERS. */
  fromSettings: string[];
  /** Set by admins: they override the settings. */
  rules: AccessRule[];
  admins: string[];
}

export interface AccessService {
  isBotAdmin(userId: number): boolean;
  isAllowed(user: TelegramUser): Promise<boolean>;
  /** Sets an admin's decision about `subject` (an id or @username, as typed); null if it is neither. */
  decide(subject: string, allowed: boolean, by: number): Promise<string | null>;
  overview(): Promise<AccessOverview>;
}

export interface AccessDependencies {
  config: AccessConfig;
  repository: AccessRepository;
  /** How long this instance trusts the rules it read: another instance's /allow shows up within it. */
  refreshMs?: number;
  now?: () => number;
}

/**
 * Who may talk to the bot. The admins' rules (stored, so every instance shares them) win over
 * ALLOWED_USERS; admins are always allowed. The rules are few: each instance keeps them all in
 * memory and reads them again when they are older than `refreshMs`, so a turn costs no query.
 */
export function createAccessService({ config, repository, refreshMs = 10_000, now = Date.now }: AccessDependencies): AccessService {
  const admins = new Set(config.admins);
  const listed = new Set(config.subjects);
  let cache: { rules: Map<string, AccessRule>; readAt: number } | undefined;
  let reading: Promise<Map<string, AccessRule>> | undefined;

  const read = () =>
    (reading ??= repository
      .rules()
      .then((rules) => {
        cache = { rules: new Map(rules.map((r) => [r.subject, r])), readAt: now() };
        return cache.rules;
      })
      .finally(() => (reading = undefined)));

  const rules = async (): Promise<Map<string, AccessRule>> => {
    if (cache && now() - cache.readAt < refreshMs) return cache.rules;
    // A database that does not answer leaves the last rules in force rather than locking everyone out.
    return read().catch((error: unknown) => {
      if (cache) return cache.rules;
      throw error;
    });
  };

  return {
    isBotAdmin: (userId) => admins.has(String(userId)),

    async isAllowed(user) {
      if (admins.has(String(user.id))) return true;
      const current = await rules();
      const username = user.username ? `@${user.username.toLowerCase()}` : undefined;
      const rule = current.get(String(user.id)) ?? (username ? current.get(username) : undefined);
      if (rule) return rule.allowed;
      return config.everyone || listed.has(String(user.id)) || (username !== undefined && listed.has(username));
    },

    async decide(text, allowed, by) {
      const subject = parseUserSubject(text);
      if (subject === null) return null;
      await repository.setRule(subject, allowed, by);
      await read();
      return subject;
    },

    async overview() {
      return { everyone: config.everyone, fromSettings: [...listed], rules: [...(await rules()).values()], admins: [...admins] };
    },
  };
}
