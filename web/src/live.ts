// The live event stream (SSE). EventSource reconnects by itself after a network error;
// when the server refuses (expired token) it gives up, so we refresh the token and
// reconnect, resuming after the last event seen so nothing is missed.
import { useEffect, useRef, useState } from "react";
import { authedUrl, getTokens, refreshTokens } from "./api";

export interface LiveEvent {
  id: number;
  type: string;
  subject_id: number | null;
  data: Record<string, unknown>;
}

export type LiveStatus = "connecting" | "live" | "offline";

const TYPES = "message.received,message.updated,message.deleted";

export function useLiveEvents(
  onEvent: (event: LiveEvent) => void,
  onReconnect: () => void,
  types: string = TYPES,
): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>("connecting");
  const handler = useRef(onEvent);
  const reconnected = useRef(onReconnect);
  handler.current = onEvent;
  reconnected.current = onReconnect;

  useEffect(() => {
    if (typeof EventSource === "undefined") return;
    let source: EventSource | null = null;
    let lastId: number | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let opened = false;
    let failures = 0;

    const connect = () => {
      const params: Record<string, string> = { types };
      if (lastId !== null) params.after = String(lastId);
      source = new EventSource(authedUrl("/api/v1/events/stream", params));
      source.onopen = () => {
        failures = 0;
        setStatus("live");
        if (opened) reconnected.current();
        opened = true;
      };
      const receive = (message: MessageEvent<string>) => {
        const event = JSON.parse(message.data) as LiveEvent;
        lastId = event.id;
        handler.current(event);
      };
      for (const type of types.split(",")) source.addEventListener(type, receive as EventListener);
      source.onerror = () => {
        setStatus(source?.readyState === EventSource.CLOSED ? "offline" : "connecting");
        if (source?.readyState !== EventSource.CLOSED || stopped) return;
        source.close();
        failures += 1;
        retry = setTimeout(
          async () => {
            if (getTokens()) await refreshTokens();
            if (!stopped) connect();
          },
          Math.min(30_000, 500 * 2 ** failures),
        );
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [types]);
  return status;
}
