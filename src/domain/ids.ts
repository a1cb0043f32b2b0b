/**
 * Ids of Telegram's chats, users and messages as the app passes them around. They are 64-bit:
 * they come from the database as `bigint` and from Telegram as `number`, and either is accepted.
 */

export type Id = number | bigint;
