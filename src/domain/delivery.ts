/**
 * Delivery: how far sending a stored answer to Telegram got, kept with its inbox row so that a
 * resumed delivery sends only the parts not yet sent.
 */

/** How far the delivery of a stored answer got, so a resumed delivery sends only the rest. */
export interface DeliveryProgress {
  /** Final messages already sent. */
  parts: number;
  /** The preview message (edited into the first part), if one was shown. */
  previewMessageId?: number;
  /** How the parts were cut: rich messages, or classic text + entities (absent: classic). */
  format?: "rich" | "classic";
}
