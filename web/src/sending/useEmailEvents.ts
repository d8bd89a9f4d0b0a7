// email.* events from the live stream, delivered at most once per `everyMs` as one batch,
// so a batch of 10,000 deliveries triggers a handful of re-fetches, not 10,000.
import { useCallback, useEffect, useRef } from "react";
import { type LiveEvent, type LiveStatus, useLiveEvents } from "../live";
import { EMAIL_EVENTS } from "./api";

export function useEmailEvents(onEvents: (events: LiveEvent[]) => void, everyMs = 1000): LiveStatus {
  const handler = useRef(onEvents);
  handler.current = onEvents;
  const pending = useRef<LiveEvent[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const flush = useCallback(() => {
    timer.current = null;
    const events = pending.current;
    pending.current = [];
    if (events.length) handler.current(events);
  }, []);

  const receive = useCallback(
    (event: LiveEvent) => {
      pending.current.push(event);
      timer.current ??= setTimeout(flush, everyMs);
    },
    [flush, everyMs],
  );
  // After a reconnect the stream resumes where it stopped; re-reading once is still the safe choice.
  const reconnect = useCallback(() => handler.current([]), []);

  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  return useLiveEvents(receive, reconnect, EMAIL_EVENTS);
}
