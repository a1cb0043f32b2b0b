/**
 * The model's input, built: the system prompt, the history and the message being answered, as
 * chat-completions messages; in groups each user message names its author; a file the model does
 * not see is labelled; a photo it sees goes as an image part.
 */
import type { HistoryMessage, MessageKind } from "../domain/messages.ts";
import type { UserInfo } from "../domain/people.ts";
import type { ContentPart, ModelMessage } from "../llm/client.ts";

/** What the prompt needs of the message being answered. */
export interface PromptTurn {
  text: string;
  isGroup: boolean;
  user: Pick<UserInfo, "firstName">;
  kind?: MessageKind | undefined;
}

const nameFor = (isGroup: boolean, name: string | null, content: string) =>
  isGroup && name ? `${name}: ${content}` : content;

/** How the model is told what a turn was when it gets the turn's text alone. */
const LABELS: Partial<Record<MessageKind, string>> = { photo: "[photo]", voice: "[voice message]", audio: "[audio]", video_note: "[video message]" };

/** A user turn as the model reads it: its text (labelled by kind), and its image when it has one. */
function userContent(isGroup: boolean, name: string | null, kind: MessageKind, text: string, image: string | undefined): ModelMessage["content"] {
  const label = image === undefined ? LABELS[kind] : undefined;
  const body = nameFor(isGroup, name, [label, text].filter((part) => part).join(" "));
  if (image === undefined) return body;
  const parts: ContentPart[] = body.trim() ? [{ type: "text", text: body }] : [];
  return [...parts, { type: "image_url", image_url: { url: image } }];
}

/**
 * The window from a turn boundary: the budget keeps the newest messages, and can start the window
 * with an answer whose question fell out of it. Those leading answers go too, so the history after
 * the system prompt always starts with a user's message (several model servers refuse or mis-handle
 * an assistant message there; measured, 126 of 575 trimmed requests began so).
 */
export function fromTurnBoundary<M extends { role: HistoryMessage["role"] }>(history: M[]): M[] {
  const first = history.findIndex((m) => m.role !== "assistant");
  return first <= 0 ? (first === -1 ? [] : history) : history.slice(first);
}

/** The key of the turn being answered in the images map (history turns go by message id). */
export const CURRENT_TURN = "turn";

/**
 * The model's input: the system prompt, the history, and the message being answered. `images`
 * holds the data URLs of the turns whose photo the model sees (by message id, or CURRENT_TURN).
 */
export function toModelMessages(
  systemPrompt: string,
  history: HistoryMessage[],
  turn: PromptTurn,
  images: ReadonlyMap<bigint | typeof CURRENT_TURN, string> = new Map(),
): ModelMessage[] {
  return [
    { role: "system", content: systemPrompt },
    ...history.map((m): ModelMessage => ({
      role: m.role,
      content: m.role === "user" ? userContent(turn.isGroup, m.authorName, m.kind, m.content, images.get(m.id)) : m.content,
    })),
    { role: "user", content: userContent(turn.isGroup, turn.user.firstName, turn.kind ?? "text", turn.text, images.get(CURRENT_TURN)) },
  ];
}
