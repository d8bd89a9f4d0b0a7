// A few routes need no router library: the path and query live in the URL, and
// navigate() pushes history and tells every subscriber.
import { useSyncExternalStore } from "react";

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
  };
}

export function navigate(to: string, { replace = false } = {}): void {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  listeners.forEach((listener) => listener());
}

export function useLocation(): { path: string; search: string } {
  const path = useSyncExternalStore(subscribe, () => window.location.pathname);
  const search = useSyncExternalStore(subscribe, () => window.location.search);
  return { path, search };
}

/** The inbox's URL for a search (and optionally an open message): shareable as is. */
export function inboxUrl(query: string, messageId?: number | null): string {
  const base = messageId ? `/messages/${messageId}` : "/";
  return query.trim() ? `${base}?q=${encodeURIComponent(query)}` : base;
}
