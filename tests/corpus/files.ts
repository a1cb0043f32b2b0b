/**
 * Hostile files: PDFs that make pdf.js spend minutes or gigabytes on a few kilobytes, and images
 * whose pixels do not fit any memory. Built here, small, at test time.
 */
import { crc32, deflateSync } from "node:zlib";

/** A PDF of `pages` pages from its objects, with a correct cross-reference table. */
function pdfOf(objects: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from("%PDF-1.4\n", "latin1")];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  for (const [i, object] of objects.entries()) {
    offsets.push(length);
    const part = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`, "latin1"), typeof object === "string" ? Buffer.from(object, "latin1") : object, Buffer.from("\nendobj\n", "latin1")]);
    parts.push(part);
    length += part.length;
  }
  const xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`, "latin1"));
  return Buffer.concat(parts);
}

const stream = (data: Buffer, filter = true) => {
  const body = filter ? deflateSync(data, { level: 9 }) : data;
  return Buffer.concat([Buffer.from(`<< /Length ${body.length}${filter ? " /Filter /FlateDecode" : ""} >>\nstream\n`, "latin1"), body, Buffer.from("\nendstream", "latin1")]);
};

/**
 * Pages that all draw one content stream of `inflatedBytes` text operators, deflated (measured on
 * Parley: ten pages sharing 5 MB cost 16 s of CPU; pdf.js runs the stream again for each page).
 */
export function sharedStreamPdf(pages: number, inflatedBytes: number): Buffer {
  const operators = Buffer.from(`BT /F1 12 Tf 72 720 Td ${"(x) Tj ".repeat(Math.ceil(inflatedBytes / 7))} ET`, "latin1");
  const kids = Array.from({ length: pages }, (_, i) => `${5 + i} 0 R`).join(" ");
  return pdfOf([
    "<< /Type /Catalog /Pages 2 0 R >>",
    `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`,
    stream(operators),
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ...Array.from({ length: pages }, () => "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>"),
  ]);
}

/** One page whose content stream inflates to `inflatedBytes` of spaces: a deflate bomb (~1 000 : 1). */
export function deflateBombPdf(inflatedBytes: number): Buffer {
  return pdfOf([
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
    stream(Buffer.alloc(inflatedBytes, 0x20)),
  ]);
}

/** `pages` small pages, each saying "Page n. " and some words. */
export function manyPagesPdf(pages: number): Buffer {
  const kids = Array.from({ length: pages }, (_, i) => `${4 + 2 * i} 0 R`).join(" ");
  const objects: Array<string | Buffer> = ["<< /Type /Catalog /Pages 2 0 R >>", `<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"];
  for (let i = 0; i < pages; i++) {
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${5 + 2 * i} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`);
    objects.push(stream(Buffer.from(`BT /F1 12 Tf 72 720 Td (Page ${i + 1}. Some words on this page.) Tj ET`, "latin1"), false));
  }
  return pdfOf(objects);
}

const chunk = (type: string, data: Buffer) => {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([head, body, crc]);
};

/**
 * A PNG of width × height pixels, all of one grey: it compresses to almost nothing whatever its
 * size (a 60 000 × 60 000 one, 3.6 gigapixels, is a few kilobytes; decoded it would be 10 GB).
 */
export function greyPng(width: number, height: number, rows = height): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const row = Buffer.alloc(1 + width, 0x80);
  row[0] = 0; // no filter
  const pixels = deflateSync(Buffer.concat(Array.from({ length: Math.min(rows, height) }, () => row)));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", pixels), chunk("IEND", Buffer.alloc(0))]);
}
