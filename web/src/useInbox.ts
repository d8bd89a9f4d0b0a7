// The message list for one search: pages by cursor, and stays current with live events.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, type MessageSummary } from "./api";
import { type LiveEvent, type LiveStatus, useLiveEvents } from "./live";

const PAGE = 100;
const HEAD = 50;

export interface Inbox {
  items: MessageSummary[];
  total: number;
  totalCapped: boolean;
  unread: number;
  loading: boolean;
  error: string | null;
  hasMore: boolean;
  live: LiveStatus;
  loadMore: () => void;
  reload: () => void;
  patchLocal: (ids: number[], patch: Partial<MessageSummary>) => void;
  removeLocal: (ids: number[]) => void;
}

/**
 * The list after a fresh first page (``head``, newest first): the head is the truth for
 * everything at or above its oldest id (new, changed, deleted or no longer matching);
 * older items already loaded stay. A short head is the whole result.
 */
export function mergeHead(current: MessageSummary[], head: MessageSummary[], pageSize: number): MessageSummary[] {
  if (head.length < pageSize) return head;
  const oldest = head[head.length - 1].id;
  return [...head, ...current.filter((m) => m.id < oldest)];
}

export function useInbox(query: string): Inbox {
  const [items, setItems] = useState<MessageSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [total, setTotal] = useState(0);
  const [totalCapped, setTotalCapped] = useState(false);
  const [unread, setUnread] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  const loadingMore = useRef(false);
  const headTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const queryRef = useRef(query);
  queryRef.current = query;
  const cursorRef = useRef(cursor);
  cursorRef.current = cursor;
  const countRef = useRef(0);
  countRef.current = items.length;

  const reload = useCallback(() => {
    const mine = ++generation.current;
    setLoading(true);
    setError(null);
    api
      .list(queryRef.current, null, PAGE)
      .then((page) => {
        if (mine !== generation.current) return;
        setItems(page.items);
        setCursor(page.next_cursor);
        setTotal(page.total);
        setTotalCapped(page.total_capped);
        setUnread(page.unread);
      })
      .catch((err: Error) => mine === generation.current && setError(err.message))
      .finally(() => mine === generation.current && setLoading(false));
  }, []);

  useEffect(() => {
    reload();
  }, [query, reload]);

  const loadMore = useCallback(() => {
    if (!cursor || loadingMore.current) return;
    loadingMore.current = true;
    const mine = generation.current;
    api
      .list(queryRef.current, cursor, PAGE)
      .then((page) => {
        if (mine !== generation.current) return;
        setItems((current) => {
          const known = new Set(current.map((m) => m.id));
          return [...current, ...page.items.filter((m) => !known.has(m.id))];
        });
        setCursor(page.next_cursor);
      })
      .catch((err: Error) => mine === generation.current && setError(err.message))
      .finally(() => {
        loadingMore.current = false;
      });
  }, [cursor]);

  const refreshHead = useCallback(() => {
    clearTimeout(headTimer.current);
    headTimer.current = setTimeout(() => {
      const mine = generation.current;
      api
        .list(queryRef.current, null, HEAD)
        .then((page) => {
          if (mine !== generation.current) return;
          // A list that began (nearly) empty learns here that older messages exist.
          if (cursorRef.current === null && countRef.current <= HEAD) setCursor(page.next_cursor);
          setItems((current) => mergeHead(current, page.items, HEAD));
          setTotal(page.total);
          setTotalCapped(page.total_capped);
          setUnread(page.unread);
        })
        .catch(() => undefined);
    }, 50);
  }, []);

  const patchLocal = useCallback((ids: number[], patch: Partial<MessageSummary>) => {
    const wanted = new Set(ids);
    setItems((current) => current.map((m) => (wanted.has(m.id) ? { ...m, ...patch } : m)));
  }, []);

  const removeLocal = useCallback((ids: number[]) => {
    const gone = new Set(ids);
    setItems((current) => current.filter((m) => !gone.has(m.id)));
  }, []);

  const onEvent = useCallback(
    (event: LiveEvent) => {
      if (event.type === "message.updated") {
        const data = event.data as { id: number; is_read: boolean; tags: string[] };
        patchLocal([data.id], { is_read: data.is_read, tags: data.tags });
      } else if (event.type === "message.deleted") {
        removeLocal((event.data as { ids: number[] }).ids ?? []);
      }
      refreshHead();
    },
    [patchLocal, refreshHead, removeLocal],
  );
  const live = useLiveEvents(onEvent, refreshHead);

  useEffect(() => () => clearTimeout(headTimer.current), []);

  return {
    items,
    total,
    totalCapped,
    unread,
    loading,
    error,
    hasMore: cursor !== null,
    live,
    loadMore,
    reload,
    patchLocal,
    removeLocal,
  };
}
