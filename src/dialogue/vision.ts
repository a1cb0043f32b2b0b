/**
 * Which photos the model sees (OPENAI_VISION, HISTORY_MAX_IMAGES): the newest few photo turns,
 * downloaded again by file_id; with OPENAI_VISION=auto a model that refuses images gets
 * placeholders from then on, and a chat is told once (per model, while the process runs) that its
 * photos are not seen.
 */
import type { Logger } from "pino";
import type { Attachment, HistoryMessage, MessageKind } from "../domain/messages.ts";
import type { LlmFailure } from "../llm/client.ts";
import type { MediaService } from "../media/media.service.ts";
import { CURRENT_TURN } from "./prompt.ts";

export interface VisionOptions {
  /** Photos for the model (downloaded again by file_id); without it, photos are placeholders. */
  media?: Pick<MediaService, "imageUrl"> | undefined;
  /** OPENAI_VISION: auto (images until the model refuses them), on, off. Default auto. */
  vision?: "auto" | "on" | "off" | undefined;
  /** Images of at most this many of the newest photo turns go to the model. Default 3. */
  maxImages?: number | undefined;
}

export function createVisionPolicy(options: VisionOptions) {
  const media = options.media;
  const vision = options.vision ?? "auto";
  const maxImages = options.maxImages ?? 3;
  /** Models that refused an image (OPENAI_VISION=auto): they get placeholders from then on. */
  const textOnlyModels = new Set<string>();
  const toldImagesUnseen = new Set<string>();

  /**
   * The images the model sees: the photos of the newest `maxImages` photo turns, the one being
   * answered first, downloaded again by file_id. A history photo that cannot be had goes as a
   * placeholder; the turn's own photo failing fails the turn ("failed").
   */
  const imagesFor = async (turn: { kind?: MessageKind | undefined; attachment?: Attachment | null | undefined }, history: HistoryMessage[], model: string, log: Logger) => {
    const images = new Map<bigint | typeof CURRENT_TURN, string>();
    if (!media || vision === "off" || (vision === "auto" && textOnlyModels.has(model)) || maxImages === 0) return images;
    const wanted: Array<[bigint | typeof CURRENT_TURN, Attachment]> = [];
    if (turn.kind === "photo" && turn.attachment) wanted.push([CURRENT_TURN, turn.attachment]);
    for (const m of [...history].reverse()) {
      if (wanted.length >= maxImages) break;
      if (m.kind === "photo" && m.attachment) wanted.push([m.id, m.attachment]);
    }
    const urls = await Promise.all(wanted.map(([, attachment]) => media.imageUrl(attachment).catch((error: unknown) => error)));
    for (const [i, [key]] of wanted.entries()) {
      const url = urls[i];
      if (typeof url === "string") images.set(key, url);
      else if (key === CURRENT_TURN) {
        log.warn({ reason: url instanceof Error ? url.message : String(url) }, "could not download the photo being answered");
        return "failed" as const;
      } else log.info({ messageId: String(key) }, "an earlier photo could not be downloaded again; the model gets a placeholder");
    }
    return images;
  };

  return {
    imagesFor,
    /** A model call failed this way with images in it: whether to ask again without (and from now on). */
    refusedImages(model: string, failure: LlmFailure): boolean {
      if (vision !== "auto" || failure !== "images_unsupported") return false;
      textOnlyModels.add(model);
      return true;
    },
    /** Whether to tell this chat that this model does not see its photos (once). */
    tellUnseen(chatId: number, model: string): boolean {
      const key = `${chatId}:${model}`;
      if (toldImagesUnseen.has(key)) return false;
      toldImagesUnseen.add(key);
      return true;
    },
  };
}
