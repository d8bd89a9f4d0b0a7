// Pure helpers for the message view: links, remote images and the raw source's shape.

export interface FoundLink {
  href: string;
  text: string;
  /** javascript:, data: and the like: listed, never made clickable. */
  unsafe: boolean;
}

const SAFE_SCHEMES = /^(https?:|mailto:|tel:)/i;
const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"')\]]+/gi;

/** Every link in the HTML (parsed inertly: nothing loads or runs) and in the plain text. */
export function extractLinks(html: string, text: string): FoundLink[] {
  const found = new Map<string, FoundLink>();
  if (html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    for (const anchor of Array.from(doc.querySelectorAll("a[href], area[href]"))) {
      const href = (anchor.getAttribute("href") ?? "").trim();
      if (!href || href.startsWith("#") || found.has(href)) continue;
      const label = (anchor.textContent ?? "").replace(/\s+/g, " ").trim();
      found.set(href, { href, text: label, unsafe: !SAFE_SCHEMES.test(href) });
    }
  }
  for (const match of text.match(URL_IN_TEXT) ?? []) {
    const href = match.replace(/[.,;:!?]+$/, "");
    if (!found.has(href)) found.set(href, { href, text: "", unsafe: false });
  }
  return [...found.values()];
}

const REMOTE_SRC =
  /(?:\bsrc\s*=\s*["']?\s*|url\(\s*["']?\s*|\bbackground\s*=\s*["']?\s*|\bsrcset\s*=\s*["']?\s*)(?:https?:)?\/\//i;

/** True when the HTML would load images from elsewhere (tracking pixels included). */
export function hasRemoteImages(html: string): boolean {
  return REMOTE_SRC.test(html);
}

export interface RawLine {
  kind: "header-name" | "header-continuation" | "body";
  name?: string;
  value: string;
}

/** The source split into header lines (name and value) and body lines, for highlighting. */
export function splitRaw(raw: string): RawLine[] {
  const lines = raw.replace(/\r\n/g, "\n").split("\n");
  const out: RawLine[] = [];
  let inHeaders = true;
  for (const line of lines) {
    if (inHeaders && line === "") {
      inHeaders = false;
      out.push({ kind: "body", value: "" });
      continue;
    }
    if (inHeaders) {
      const header = /^([!-9;-~]+):(.*)$/.exec(line);
      if (header) out.push({ kind: "header-name", name: header[1], value: header[2] });
      else out.push({ kind: "header-continuation", value: line });
    } else {
      out.push({ kind: "body", value: line });
    }
  }
  return out;
}

export const DEVICES = {
  phone: { width: 375, label: "Phone" },
  tablet: { width: 768, label: "Tablet" },
  desktop: { width: 0, label: "Desktop" },
} as const;
export type Device = keyof typeof DEVICES;
