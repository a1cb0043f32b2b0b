/** How a group keeps its memory: one history everyone shares, or one per member. */
export type HistoryMode = "shared" | "member";

/** Where a message was written, as far as memory is concerned. */
export interface Place {
  chatId: number;
  /** A forum topic (its own history), if the message was written in one. */
  topicId?: number | undefined;
  /** Who wrote it: their own history when the group keeps one per member. */
  userId: number;
  isGroup: boolean;
}

/**
 * The key of one history of a chat: "" the chat's own; "t<topic>" a forum topic's; "u<user>" a
 * member's own in a group that keeps one per member; "t<topic>/u<user>" both. Private chats
 * never split by member (there is one).
 */
export function conversationKey(place: Place, mode: HistoryMode): string {
  const parts: string[] = [];
  if (place.topicId !== undefined) parts.push(`t${place.topicId}`);
  if (place.isGroup && mode === "member") parts.push(`u${place.userId}`);
  return parts.join("/");
}

/** The member whose own history `conversation` is ("u<user>" or "t<topic>/u<user>"), if it is one. */
export function memberOf(conversation: string): number | undefined {
  const member = /(?:^|\/)u(\d+)$/.exec(conversation)?.[1];
  return member === undefined ? undefined : Number(member);
}
