import type { Message, PhotoSize } from "grammy/types";
import type { Attachment } from "../domain/messages.ts";

/** Image types vision models take; other images (SVG, HEIC…) are documents. */
const MODEL_IMAGE_TYPES = new Set(["image/jpeg", "image/png", "image/webp", "image/gif"]);

/** The largest size Telegram offers whose longer side is within `maxSide` (else the smallest). */
export function pickPhotoSize(sizes: readonly PhotoSize[], maxSide: number): PhotoSize | undefined {
  const bySize = [...sizes].sort((a, b) => a.width * a.height - b.width * b.height);
  return bySize.filter((s) => Math.max(s.width, s.height) <= maxSide).at(-1) ?? bySize[0];
}

/**
 * The file of a message the bot can make part of the conversation: a photo (or an image sent as a
 * file), a voice note, audio, a video note, or a document; null for anything else.
 */
export function attachmentOf(message: Message, imageMaxSide: number): Attachment | null {
  const none = { mimeType: null, fileSize: null, width: null, height: null, duration: null, fileName: null };
  if (message.photo) {
    const size = pickPhotoSize(message.photo, imageMaxSide);
    if (!size) return null;
    return { ...none, kind: "photo", fileId: size.file_id, fileUniqueId: size.file_unique_id, mimeType: "image/jpeg", fileSize: size.file_size ?? null, width: size.width, height: size.height };
  }
  const document = message.document;
  if (document) {
    const image = document.mime_type !== undefined && MODEL_IMAGE_TYPES.has(document.mime_type);
    return {
      ...none,
      kind: image ? "photo" : "document",
      fileId: document.file_id,
      fileUniqueId: document.file_unique_id,
      mimeType: document.mime_type ?? null,
      fileSize: document.file_size ?? null,
      fileName: document.file_name ?? null,
    };
  }
  const sound = message.voice ?? message.audio;
  if (sound) {
    return {
      ...none,
      kind: message.voice ? "voice" : "audio",
      fileId: sound.file_id,
      fileUniqueId: sound.file_unique_id,
      mimeType: sound.mime_type ?? null,
      fileSize: sound.file_size ?? null,
      duration: sound.duration,
      fileName: message.audio?.file_name ?? null,
    };
  }
  const note = message.video_note;
  if (note) {
    return { ...none, kind: "video_note", fileId: note.file_id, fileUniqueId: note.file_unique_id, mimeType: "video/mp4", fileSize: note.file_size ?? null, duration: note.duration, width: note.length, height: note.length };
  }
  return null;
}
