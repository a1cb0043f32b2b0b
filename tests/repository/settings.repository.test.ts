/** Chats' own settings (/system), on every store. */
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Database } from "../../src/db/database.ts";
import { createSettingsRepository, type SettingsRepository } from "../../src/db/settings.repository.ts";
import { openMigrated, STORES } from "../helpers/stores.ts";

for (const store of STORES) {
  describe.skipIf(!store.enabled)(`chat settings on ${store.name}`, () => {
    let db: Kysely<Database>;
    let settings: SettingsRepository;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ db, close } = await openMigrated(store));
      settings = createSettingsRepository(db);
    });
    afterAll(async () => close?.());

    test("many chats in one read, in the order asked, defaults where nothing is set; set, change, reset", async () => {
      expect(await settings.ofChats([])).toEqual([]);
      await settings.setSystemPrompt(1, "Be brief.", 10);
      await settings.setSystemPrompt(3, "Talk like a pirate.", 10);
      await settings.setSystemPrompt(3, "Talk like a poet.", 11);
      expect((await settings.ofChats([3, 2, 1, 3])).map((s) => s.systemPrompt)).toEqual(["Talk like a poet.", null, "Be brief.", "Talk like a poet."]);
      await settings.setSystemPrompt(1, null, 10);
      expect(await settings.ofChats([1])).toEqual([{ systemPrompt: null, model: null, historyMode: null }]);
      const row = await db.selectFrom("chat_settings").select(["updated_by"]).where("chat_id", "=", 3n).executeTakeFirstOrThrow();
      expect(row.updated_by).toBe(11n);
    });

    test("a chat's model, instructions and history mode are set apart: setting one leaves the others", async () => {
      await settings.setSystemPrompt(7, "Be kind.", 1);
      await settings.setModel(7, "big-model", 2);
      await settings.setHistoryMode(7, "member", 3);
      expect(await settings.ofChats([7, 8])).toEqual([{ systemPrompt: "Be kind.", model: "big-model", historyMode: "member" }, { systemPrompt: null, model: null, historyMode: null }]);
      await settings.setModel(7, null, 2);
      expect(await settings.ofChats([7])).toEqual([{ systemPrompt: "Be kind.", model: null, historyMode: "member" }]);
      await settings.setHistoryMode(7, null, 3);
      expect(await settings.ofChats([7])).toEqual([{ systemPrompt: "Be kind.", model: null, historyMode: null }]);
    });

    test("a group's settings follow it to its supergroup, unless the supergroup has its own", async () => {
      await settings.setSystemPrompt(-50, "Group rules.", 1);
      await settings.move(-50, -10050);
      expect((await settings.ofChats([-50, -10050])).map((s) => s.systemPrompt)).toEqual([null, "Group rules."]);
      await settings.setSystemPrompt(-60, "Old.", 1);
      await settings.setSystemPrompt(-10060, "New.", 1);
      await settings.move(-60, -10060);
      expect((await settings.ofChats([-10060])).map((s) => s.systemPrompt)).toEqual(["New."]);
    });
  });
}
