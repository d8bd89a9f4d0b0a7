import AttachFileIcon from "@mui/icons-material/AttachFile";
import Box from "@mui/material/Box";
import Checkbox from "@mui/material/Checkbox";
import Chip from "@mui/material/Chip";
import LinearProgress from "@mui/material/LinearProgress";
import Typography from "@mui/material/Typography";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useRef } from "react";
import type { MessageSummary } from "../api";
import { formatSize, fullTime, relativeTime, senderLabel } from "../format";

export const ROW_HEIGHT = 76;
const LOAD_AHEAD = 30;

interface Props {
  items: MessageSummary[];
  selected: ReadonlySet<number>;
  focusedId: number | null;
  openId: number | null;
  hasMore: boolean;
  selectable: boolean;
  onOpen: (id: number) => void;
  onToggle: (id: number) => void;
  onLoadMore: () => void;
}

interface RowProps {
  message: MessageSummary;
  selected: boolean;
  focused: boolean;
  open: boolean;
  selectable: boolean;
  onOpen: (id: number) => void;
  onToggle: (id: number) => void;
}

const Row = memo(function Row({ message, selected, focused, open, selectable, onOpen, onToggle }: RowProps) {
  const unread = !message.is_read;
  const subject = message.subject || "(no subject)";
  return (
    <Box
      role="option"
      id={`message-${message.id}`}
      aria-selected={open}
      aria-label={`${unread ? "Unread. " : ""}${senderLabel(message.from)}: ${subject}`}
      data-testid="message-row"
      data-unread={unread || undefined}
      onClick={() => onOpen(message.id)}
      sx={{
        height: ROW_HEIGHT,
        display: "flex",
        alignItems: "center",
        gap: 1,
        pr: 1.5,
        pl: selectable ? 0.5 : 1.5,
        cursor: "pointer",
        borderBottom: 1,
        borderColor: "divider",
        borderLeft: 3,
        borderLeftColor: unread ? "primary.main" : "transparent",
        bgcolor: open ? "action.selected" : selected ? "action.hover" : undefined,
        outline: focused ? 2 : 0,
        outlineColor: "primary.main",
        outlineOffset: -2,
        "&:hover": { bgcolor: open ? "action.selected" : "action.hover" },
      }}
    >
      {selectable && (
        <Checkbox
          size="small"
          checked={selected}
          onClick={(event) => event.stopPropagation()}
          onChange={() => onToggle(message.id)}
          slotProps={{ input: { "aria-label": `Select “${subject}”` } }}
        />
      )}
      <Box sx={{ flex: 1, minWidth: 0 }}>
        <Box sx={{ display: "flex", alignItems: "baseline", gap: 1 }}>
          <Typography noWrap sx={{ flex: 1, fontWeight: unread ? 700 : 400 }} variant="body2">
            {senderLabel(message.from)}
          </Typography>
          {message.has_attachments && (
            <AttachFileIcon sx={{ fontSize: 16, alignSelf: "center" }} titleAccess="Has attachments" />
          )}
          <Typography variant="caption" color="text.secondary" sx={{ whiteSpace: "nowrap" }}>
            {formatSize(message.size)}
          </Typography>
          <Typography
            variant="caption"
            color="text.secondary"
            component="time"
            dateTime={message.received_at}
            title={fullTime(message.received_at)}
            sx={{ whiteSpace: "nowrap", minWidth: 56, textAlign: "right" }}
          >
            {relativeTime(message.received_at)}
          </Typography>
        </Box>
        <Box sx={{ display: "flex", alignItems: "center", gap: 0.5, minWidth: 0 }}>
          <Typography noWrap variant="body2" sx={{ fontWeight: unread ? 600 : 400, flexShrink: 1, minWidth: 0 }}>
            {subject}
          </Typography>
          {message.tags.map((tag) => (
            <Chip key={tag} label={tag} size="small" variant="outlined" sx={{ height: 20, fontSize: 11 }} />
          ))}
        </Box>
        <Typography noWrap variant="caption" color="text.secondary" component="div">
          {message.snippet || "\u00a0"}
        </Typography>
      </Box>
    </Box>
  );
});

/** Only the rows in view exist in the DOM, so 100,000 loaded messages scroll like 20. */
export function MessageList({
  items,
  selected,
  focusedId,
  openId,
  hasMore,
  selectable,
  onOpen,
  onToggle,
  onLoadMore,
}: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: items.length + (hasMore ? 1 : 0),
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });
  const virtualRows = virtualizer.getVirtualItems();
  const last = virtualRows.length ? virtualRows[virtualRows.length - 1].index : -1;

  useEffect(() => {
    if (hasMore && last >= items.length - LOAD_AHEAD) onLoadMore();
  }, [hasMore, last, items.length, onLoadMore]);

  const focusedIndex = focusedId === null ? -1 : items.findIndex((m) => m.id === focusedId);
  useEffect(() => {
    if (focusedIndex >= 0) virtualizer.scrollToIndex(focusedIndex, { align: "auto" });
  }, [focusedIndex, virtualizer]);

  return (
    <Box
      ref={scroller}
      role="listbox"
      aria-label="Messages"
      aria-activedescendant={focusedId !== null ? `message-${focusedId}` : undefined}
      tabIndex={0}
      sx={{ flex: 1, minHeight: 0, overflow: "auto", contain: "strict", "&:focus-visible": { outline: "none" } }}
    >
      <Box sx={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {virtualRows.map((row) => {
          const message = items[row.index];
          return (
            <Box
              key={message ? message.id : "more"}
              sx={{ position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${row.start}px)` }}
            >
              {message ? (
                <Row
                  message={message}
                  selected={selected.has(message.id)}
                  focused={message.id === focusedId}
                  open={message.id === openId}
                  selectable={selectable}
                  onOpen={onOpen}
                  onToggle={onToggle}
                />
              ) : (
                <Box sx={{ height: ROW_HEIGHT, px: 2, display: "flex", alignItems: "center" }}>
                  <LinearProgress sx={{ flex: 1 }} aria-label="Loading more messages" />
                </Box>
              )}
            </Box>
          );
        })}
      </Box>
    </Box>
  );
}
