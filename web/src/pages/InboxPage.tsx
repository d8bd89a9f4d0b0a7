import DeleteIcon from "@mui/icons-material/DeleteOutlined";
import DraftsIcon from "@mui/icons-material/DraftsOutlined";
import LabelIcon from "@mui/icons-material/LabelOutlined";
import MarkunreadIcon from "@mui/icons-material/MarkunreadOutlined";
import MoreVertIcon from "@mui/icons-material/MoreVert";
import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Checkbox from "@mui/material/Checkbox";
import IconButton from "@mui/material/IconButton";
import Menu from "@mui/material/Menu";
import MenuItem from "@mui/material/MenuItem";
import Snackbar from "@mui/material/Snackbar";
import Typography from "@mui/material/Typography";
import { lazy, Suspense, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api";
import { useSession } from "../auth";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Loading } from "../components/Loading";
import { MessageList } from "../components/MessageList";
import { SearchBox } from "../components/SearchBox";
import { TagDialog } from "../components/TagDialog";
import { inboxUrl, navigate, useLocation } from "../router";
import { useInbox } from "../useInbox";

const MessageView = lazy(() => import("./MessageView"));
const SEARCH_DELAY_MS = 250;

function typingInField(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (!element) return false;
  return ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName) || element.isContentEditable;
}

/** Enter on a focused button or link belongs to that control, not to the list. */
function onControl(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return Boolean(element?.closest("button, a, [role='button'], [role='menuitem'], [role='tab']"));
}

export function InboxPage() {
  const { path, search } = useLocation();
  const { can } = useSession();
  const canWrite = can("messages:write");
  const query = new URLSearchParams(search).get("q") ?? "";
  const match = /^\/messages\/(\d+)/.exec(path);
  const openId = match ? Number(match[1]) : null;

  const [text, setText] = useState(query);
  const inbox = useInbox(query);
  const { items, unread, removeLocal, patchLocal } = inbox;
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [focusedId, setFocusedId] = useState<number | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmAll, setConfirmAll] = useState(false);
  const [confirmSelected, setConfirmSelected] = useState(false);
  const [tagging, setTagging] = useState(false);
  const [menu, setMenu] = useState<HTMLElement | null>(null);
  const searchInput = useRef<HTMLInputElement | null>(null);
  const openIdRef = useRef(openId);
  openIdRef.current = openId;

  // The URL is the source of truth for the search; typing updates it after a pause.
  useEffect(() => setText(query), [query]);
  useEffect(() => {
    if (text === query) return;
    const timer = setTimeout(() => navigate(inboxUrl(text, openIdRef.current), { replace: true }), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text, query]);

  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Postroom` : "Postroom";
  }, [unread]);
  useEffect(() => () => void (document.title = "Postroom"), []);

  // Selection only holds messages still listed.
  useEffect(() => {
    setSelected((current) => {
      if (current.size === 0) return current;
      const present = new Set(items.map((m) => m.id));
      const kept = [...current].filter((id) => present.has(id));
      return kept.length === current.size ? current : new Set(kept);
    });
  }, [items]);

  const knownTags = useMemo(() => [...new Set(items.flatMap((m) => m.tags))].sort(), [items]);

  const open = useCallback((id: number | null) => {
    if (id !== null) setFocusedId(id);
    navigate(inboxUrl(new URLSearchParams(window.location.search).get("q") ?? "", id));
  }, []);
  const toggle = useCallback((id: number) => {
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }, []);

  const fail = (err: unknown) => setNotice(err instanceof Error ? err.message : String(err));

  const neighbour = useCallback(
    (id: number, step: number): number | null => {
      const index = items.findIndex((m) => m.id === id);
      if (index < 0) return items[0]?.id ?? null;
      return items[index + step]?.id ?? null;
    },
    [items],
  );

  const deleteOne = useCallback(
    async (id: number) => {
      const next = neighbour(id, 1) ?? neighbour(id, -1);
      try {
        await api.remove(id);
        removeLocal([id]);
        setNotice("Message deleted");
        if (openIdRef.current === id) open(next);
        else setFocusedId(next);
      } catch (err) {
        fail(err);
      }
    },
    [neighbour, open, removeLocal],
  );

  const bulkRead = async (isRead: boolean) => {
    const ids = [...selected];
    try {
      await api.patchMany(ids, { is_read: isRead });
      patchLocal(ids, { is_read: isRead });
      setNotice(`${ids.length} marked ${isRead ? "read" : "unread"}`);
    } catch (err) {
      fail(err);
    }
  };
  const bulkTag = async (tags: string[]) => {
    const ids = [...selected];
    try {
      await api.patchMany(ids, { add_tags: tags });
      setNotice(`Tagged ${ids.length}`);
      inbox.reload();
    } catch (err) {
      fail(err);
    }
  };
  const bulkDelete = async () => {
    const ids = [...selected];
    try {
      const { deleted } = await api.removeMany(ids);
      removeLocal(ids);
      setSelected(new Set());
      setNotice(`${deleted} deleted`);
      if (openId !== null && ids.includes(openId)) open(null);
    } catch (err) {
      fail(err);
    }
  };
  const deleteAll = async () => {
    try {
      const { deleted } = await api.removeMatching(query);
      setNotice(`${deleted} deleted`);
      setSelected(new Set());
      open(null);
      inbox.reload();
    } catch (err) {
      fail(err);
    }
  };

  // Keyboard: j/k move, Enter opens, Delete deletes, / searches, Escape closes.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (typingInField(event.target) || document.querySelector('[role="dialog"]')) return;
      const current = openIdRef.current ?? focusedId;
      if (event.key === "/") {
        event.preventDefault();
        searchInput.current?.focus();
      } else if (event.key === "j" || event.key === "k") {
        const step = event.key === "j" ? 1 : -1;
        const next = current === null ? (items[0]?.id ?? null) : neighbour(current, step);
        if (next === null) return;
        event.preventDefault();
        if (openIdRef.current !== null) open(next);
        else setFocusedId(next);
      } else if (
        event.key === "Enter" &&
        focusedId !== null &&
        openIdRef.current !== focusedId &&
        !onControl(event.target)
      ) {
        event.preventDefault();
        open(focusedId);
      } else if ((event.key === "Delete" || event.key === "#") && canWrite && current !== null) {
        event.preventDefault();
        void deleteOne(current);
      } else if (event.key === "Escape" && openIdRef.current !== null) {
        open(null);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [items, focusedId, neighbour, open, deleteOne, canWrite]);

  const allSelected = items.length > 0 && selected.size === items.length;
  const countLine = inbox.loading
    ? "Loading…"
    : `${inbox.total.toLocaleString()}${inbox.totalCapped ? "+" : ""} ${query ? "found" : "messages"} · ${unread.toLocaleString()} unread`;

  return (
    <Box sx={{ display: "flex", flex: 1, minHeight: 0 }}>
      <Box
        component="section"
        aria-label="Inbox"
        sx={{
          width: { xs: "100%", md: 440, lg: 520 },
          flexShrink: 0,
          display: { xs: openId ? "none" : "flex", md: "flex" },
          flexDirection: "column",
          borderRight: { md: 1 },
          borderColor: { md: "divider" },
          bgcolor: "background.paper",
        }}
      >
        <Box sx={{ display: "flex", alignItems: "center", gap: 0.5, p: 1 }}>
          <SearchBox value={text} onChange={setText} tags={knownTags} inputRef={searchInput} />
          {canWrite && (
            <>
              <IconButton
                aria-label="More actions"
                aria-haspopup="menu"
                onClick={(event) => setMenu(event.currentTarget)}
              >
                <MoreVertIcon />
              </IconButton>
              <Menu anchorEl={menu} open={Boolean(menu)} onClose={() => setMenu(null)}>
                <MenuItem
                  disabled={inbox.total === 0}
                  onClick={() => {
                    setMenu(null);
                    setConfirmAll(true);
                  }}
                >
                  {query ? "Delete all found…" : "Delete all messages…"}
                </MenuItem>
              </Menu>
            </>
          )}
        </Box>
        <Box
          sx={{
            display: "flex",
            alignItems: "center",
            gap: 0.5,
            px: canWrite ? 0.5 : 1.5,
            minHeight: 40,
            borderBottom: 1,
            borderColor: "divider",
          }}
        >
          {canWrite && (
            <Checkbox
              size="small"
              checked={allSelected}
              indeterminate={selected.size > 0 && !allSelected}
              disabled={items.length === 0}
              onChange={() => setSelected(allSelected ? new Set() : new Set(items.map((m) => m.id)))}
              slotProps={{ input: { "aria-label": "Select all listed messages" } }}
            />
          )}
          {selected.size > 0 ? (
            <>
              <Typography variant="body2" sx={{ mr: "auto" }} aria-live="polite">
                {selected.size} selected
              </Typography>
              <IconButton
                title="Mark read"
                size="small"
                aria-label="Mark selected read"
                onClick={() => void bulkRead(true)}
              >
                <DraftsIcon fontSize="small" />
              </IconButton>
              <IconButton
                title="Mark unread"
                size="small"
                aria-label="Mark selected unread"
                onClick={() => void bulkRead(false)}
              >
                <MarkunreadIcon fontSize="small" />
              </IconButton>
              <IconButton title="Tag" size="small" aria-label="Tag selected" onClick={() => setTagging(true)}>
                <LabelIcon fontSize="small" />
              </IconButton>
              <IconButton
                title="Delete"
                size="small"
                aria-label="Delete selected"
                onClick={() => setConfirmSelected(true)}
              >
                <DeleteIcon fontSize="small" />
              </IconButton>
            </>
          ) : (
            <Typography variant="body2" color="text.secondary" sx={{ mr: "auto" }} data-testid="count-line">
              {countLine}
            </Typography>
          )}
          <Box
            title={inbox.live === "live" ? "New mail appears as it arrives" : "Reconnecting to live updates"}
            role="status"
            aria-label={inbox.live === "live" ? "Live" : "Offline"}
            sx={{
              width: 10,
              height: 10,
              mx: 1,
              borderRadius: "50%",
              bgcolor: inbox.live === "live" ? "success.main" : "warning.main",
            }}
          />
        </Box>
        {inbox.error ? (
          <Box sx={{ p: 2 }}>
            <Alert severity="error" action={<Button onClick={inbox.reload}>Retry</Button>}>
              {inbox.error}
            </Alert>
          </Box>
        ) : inbox.loading && items.length === 0 ? (
          <Loading label="Loading messages" />
        ) : items.length === 0 ? (
          <Box sx={{ p: 4, textAlign: "center", color: "text.secondary" }} data-testid="empty-state">
            {query ? (
              <Typography>Nothing matches “{query}”.</Typography>
            ) : (
              <>
                <Typography gutterBottom>No messages yet.</Typography>
                <Typography variant="body2">
                  Point your app's SMTP at this server's port 1025; mail appears here as it arrives.
                </Typography>
              </>
            )}
          </Box>
        ) : (
          <MessageList
            items={items}
            selected={selected}
            focusedId={focusedId}
            openId={openId}
            hasMore={inbox.hasMore}
            selectable={canWrite}
            onOpen={open}
            onToggle={toggle}
            onLoadMore={inbox.loadMore}
          />
        )}
      </Box>
      <Box
        component="section"
        aria-label="Message"
        sx={{ flex: 1, minWidth: 0, display: { xs: openId ? "flex" : "none", md: "flex" }, flexDirection: "column" }}
      >
        {openId !== null ? (
          <Suspense fallback={<Loading label="Loading message" />}>
            <MessageView
              key={openId}
              id={openId}
              canWrite={canWrite}
              onClose={() => open(null)}
              onDelete={deleteOne}
              onStep={(step) => {
                const next = neighbour(openId, step);
                if (next !== null) open(next);
              }}
              onChanged={(patch) => patchLocal([openId], patch)}
            />
          </Suspense>
        ) : (
          <Box sx={{ m: "auto", textAlign: "center", color: "text.secondary", p: 4 }}>
            <Typography>Select a message to read it.</Typography>
            <Typography variant="body2">
              Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>Enter</kbd> opens, <kbd>Delete</kbd> deletes, <kbd>/</kbd>{" "}
              searches.
            </Typography>
          </Box>
        )}
      </Box>
      <ConfirmDialog
        open={confirmAll}
        title={query ? "Delete every message found?" : "Delete all messages?"}
        text={
          query
            ? `This deletes every message matching “${query}” (${inbox.total.toLocaleString()}${inbox.totalCapped ? "+" : ""}). It cannot be undone.`
            : `This deletes all ${inbox.total.toLocaleString()} messages. It cannot be undone.`
        }
        confirm="Delete"
        onConfirm={() => void deleteAll()}
        onClose={() => setConfirmAll(false)}
      />
      <ConfirmDialog
        open={confirmSelected}
        title={`Delete ${selected.size} message${selected.size === 1 ? "" : "s"}?`}
        text="The selected messages are deleted. This cannot be undone."
        confirm="Delete"
        onConfirm={() => void bulkDelete()}
        onClose={() => setConfirmSelected(false)}
      />
      <TagDialog
        open={tagging}
        count={selected.size}
        onTag={(tags) => void bulkTag(tags)}
        onClose={() => setTagging(false)}
      />
      <Snackbar
        open={notice !== null}
        autoHideDuration={4000}
        onClose={() => setNotice(null)}
        message={notice}
        anchorOrigin={{ vertical: "bottom", horizontal: "center" }}
      />
    </Box>
  );
}
