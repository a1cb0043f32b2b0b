/**
 * Messages: who wrote one (role) and what it was (text or a file), the file a turn carried, a
 * message of a history as the model sees it and the budget that history must fit, a user message
 * with its live answer (what /retry regenerates), how a turn ended (an answer and its cost, or a
 * failure), and a message as /export gives it.
 */

export type MessageRole = "system" | "user" | "assistant";

export type MessageKind = "text" | AttachmentKind;
export type AttachmentKind = "photo" | "voice" | "audio" | "video_note" | "document";

/** A file of a turn, by Telegram's reference. */
export interface Attachment {
  kind: AttachmentKind;
  fileId: string;
  fileUniqueId: string;
  mimeType: string | null;
  fileSize: number | null;
  width: number | null;
  height: number | null;
  duration: number | null;
  fileName: string | null;
}

export interface HistoryMessage {
  id: bigint;
  role: MessageRole;
  /** What a user turn was (text, photo, voice…): content is its text. */
  kind: MessageKind;
  /** The turn's file (a photo, a voice note, a document), if it had one. */
  attachment: Attachment | null;
  content: string;
  charLength: number;
  userId: bigint | null;
  /** The author's first name (user turns only), so the model can tell group members apart. */
  authorName: string | null;
  createdAt: Date;
}

export interface HistoryBudget {
  maxMessages: number;
  maxChars: number;
}

/** A user message with its live answer. */
export interface AnsweredTurn {
  questionId: bigint;
  answerId: bigint;
  kind: MessageKind;
  attachment: Attachment | null;
  content: string;
  userId: bigint | null;
  authorName: string | null;
}

/** A message as /export gives it. */
export interface ExportedMessage {
  role: MessageRole;
  kind: MessageKind;
  attachment: Attachment | null;
  author: string | null;
  content: string;
  createdAt: Date;
  /** A user turn whose answer failed (left out of the model's context). */
  inContext: boolean;
  interrupted: boolean;
  model: string | null;
}

/** What an answer cost; counted in usage_daily for the turn's user. */
export interface AnswerUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** The server reported no usage: the counts are estimates. */
  estimated: boolean;
}

/** How a turn ended: with an answer to store, or failed (the user's message is kept out of context). */
export type TurnResult = { answer: string; usage?: AnswerUsage; interrupted?: boolean } | { failed: string; usage?: AnswerUsage };
